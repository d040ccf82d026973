import type pg from "pg";
import type { Logger } from "../config/logger.js";
import type { PrismaClient } from "../db/prisma.js";
import type { EventStore } from "../event-store/event-store.js";
import type { Projection } from "./projection.js";
import type { ProjectionEngine, ProjectionStatus } from "./projection-engine.js";
import { ProjectionRunner } from "./projection-runner.js";
import { PROJECTIONS } from "./registry.js";

export interface ProjectionEngineDeps {
  store: EventStore;
  prisma: PrismaClient;
  logger: Logger;
  /**
   * The application's `pg` pool on the same database (db.pool). When given, batches and rebuilds are
   * written through it: Prisma's raw queries cost about twice as much per statement.
   */
  pool?: pg.Pool;
  /** Defaults to every registered projection. */
  projections?: readonly Projection[];
  /** Rebuild a projection whose stored version is older at start (default true). */
  rebuildOnVersionChange?: boolean;
}

/** How far `status()` counts events behind a checkpoint; the lag reported is capped there. */
const LAG_COUNT_LIMIT = 1_000;

export function createProjectionEngine(deps: ProjectionEngineDeps): ProjectionEngine {
  const runners = (deps.projections ?? PROJECTIONS).map(
    (projection) =>
      new ProjectionRunner(projection, {
        ...deps,
        onVersionMismatch:
          deps.rebuildOnVersionChange === false
            ? undefined
            : async (stale) => {
                // Loaded lazily: rebuild.ts imports this module's siblings, not the other way round.
                const { rebuildForVersionChange } = await import("./rebuild.js");
                await rebuildForVersionChange(deps, stale);
              },
      }),
  );

  return {
    start() {
      for (const runner of runners) runner.start();
    },
    async stop() {
      await Promise.all(runners.map((runner) => runner.stop()));
    },
    async waitFor(position, timeoutMs) {
      await Promise.all(runners.map((runner) => runner.waitFor(position, timeoutMs)));
    },
    async status(): Promise<ProjectionStatus[]> {
      return Promise.all(
        runners.map(async (runner) => {
          const position = await runner.refresh();
          const behind = await deps.store.readAll({
            after: position || null,
            maxCount: LAG_COUNT_LIMIT,
            streamPrefix: runner.projection.streamPrefix,
          });
          return {
            name: runner.projection.name,
            version: runner.projection.version,
            position: position || null,
            lag: behind.length,
          };
        }),
      );
    },
  };
}
