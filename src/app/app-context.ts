import type { Config } from "../config/config.js";
import type { Logger } from "../config/logger.js";
import { type Database, openDatabase } from "../db/database.js";
import { createPrismaClient, type PrismaClient } from "../db/prisma.js";
import { watchEventLog } from "../event-store/event-log-metrics.js";
import type { EventStore } from "../event-store/event-store.js";
import { openEventStore } from "../event-store/open-event-store.js";
import { defaultPipelines } from "../pipelines/default-pipelines.js";
import type { PipelineRegistry } from "../pipelines/registry.js";
import { createProjectionEngine } from "../projections/create-projection-engine.js";
import type { ProjectionEngine } from "../projections/projection-engine.js";

/** Everything a process of runstream (API, worker or both) shares; built once at start. */
export interface AppContext {
  config: Config;
  logger: Logger;
  db: Database;
  store: EventStore;
  prisma: PrismaClient;
  projections: ProjectionEngine;
  pipelines: PipelineRegistry;
  close(): Promise<void>;
}

export async function openAppContext(config: Config, logger: Logger): Promise<AppContext> {
  const db = await openDatabase(config, logger);
  const store = await openEventStore(config, db);
  const unwatch = watchEventLog(store);
  const prisma = createPrismaClient(db.url);
  const projections = createProjectionEngine({
    store,
    prisma,
    pool: db.pool,
    logger: logger.child({ component: "projections" }),
  });
  return {
    config,
    logger,
    db,
    store,
    prisma,
    projections,
    pipelines: defaultPipelines(),
    async close() {
      const began = performance.now();
      const step = (what: string) => logger.debug({ ms: Math.round(performance.now() - began) }, what);
      await projections.stop();
      unwatch();
      step("projections stopped");
      await store.close();
      step("event store closed");
      await prisma.$disconnect();
      step("prisma disconnected");
      await db.close();
    },
  };
}
