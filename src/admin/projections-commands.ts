import cliProgress from "cli-progress";
import type { Config } from "../config/config.js";
import type { Logger } from "../config/logger.js";
import { openDatabase } from "../db/database.js";
import { createPrismaClient } from "../db/prisma.js";
import { openEventStore } from "../event-store/open-event-store.js";
import { listProjections, type RebuildDeps, rebuildProjections } from "../projections/rebuild.js";

/** Database, event store and Prisma opened as the application opens them, closed after `work`. */
async function withDeps<T>(
  config: Config,
  logger: Logger,
  work: (deps: RebuildDeps) => Promise<T>,
): Promise<T> {
  const db = await openDatabase(config, logger, 5);
  const store = await openEventStore(config, db);
  const prisma = createPrismaClient(db.url, 5);
  try {
    return await work({ store, prisma, pool: db.pool, logger });
  } finally {
    await store.close();
    await prisma.$disconnect();
    await db.close();
  }
}

export async function listProjectionsCommand(
  config: Config,
  logger: Logger,
  options: { json?: boolean },
): Promise<void> {
  const list = await withDeps(config, logger, (deps) => listProjections(deps));
  if (options.json) {
    console.log(JSON.stringify(list, null, 2));
    return;
  }
  console.table(
    list.map((info) => ({
      name: info.name,
      version: info.version,
      "stored version": info.storedVersion ?? "-",
      position: info.position ?? "-",
      updated: info.updatedAt?.toISOString() ?? "-",
      "needs rebuild": info.needsRebuild ? "yes" : "no",
    })),
  );
}

export async function rebuildProjectionsCommand(
  config: Config,
  logger: Logger,
  names: string[],
  options: { progress: boolean },
): Promise<void> {
  const bar = new cliProgress.SingleBar(
    {
      format: "{projection} {bar} {value}/{total} events | {rate} events/s | ETA {eta_formatted}",
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = 0;
  let current: string | null = null;
  // Replay time (what the bar's rate measures), apart from locking, swapping tables and building
  // indexes, so that the summary's events/s is the same quantity as the bar's.
  let replayMs = 0;
  let lastProgressAt = 0;
  const showBar = options.progress && process.stderr.isTTY;
  const result = await withDeps(config, logger, (deps) =>
    rebuildProjections(deps, names.length > 0 ? names : null, (progress) => {
      const now = performance.now();
      if (current !== progress.projection) {
        if (current !== null && showBar) bar.stop();
        current = progress.projection;
        started = now;
        if (showBar)
          bar.start(progress.total, progress.replayed, { projection: progress.projection, rate: 0 });
      } else {
        replayMs += now - lastProgressAt;
      }
      lastProgressAt = now;
      if (!showBar) return;
      const rate = () => Math.round(progress.replayed / Math.max((now - started) / 1_000, 0.001));
      bar.setTotal(progress.total);
      bar.update(progress.replayed, { rate: rate() });
    }),
  );
  if (current !== null && showBar) bar.stop();
  const perSecond = Math.round(result.eventsReplayed / Math.max(replayMs / 1_000, 0.001));
  console.log(
    `rebuilt ${result.projections.join(", ")}: ${result.eventsReplayed} events replayed in ${Math.round(replayMs)} ms ` +
      `(${perSecond} events/s), ${result.durationMs} ms in all (locks, table swap, indexes)`,
  );
}
