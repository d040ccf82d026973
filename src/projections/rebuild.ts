import type pg from "pg";
import type { Logger } from "../config/logger.js";
import type { PrismaClient } from "../db/prisma.js";
import type { EventStore, StoredEvent } from "../event-store/event-store.js";
import { ensureCheckpoint, lockCheckpoint, readCheckpoint, START, saveCheckpoint } from "./checkpoints.js";
import type { Projection } from "./projection.js";
import { PROJECTIONS, projectionsNamed } from "./registry.js";
import {
  completeShadowTables,
  createShadowTables,
  dropRebuildSchemas,
  shadowSchema,
  swapShadowTables,
  validateExternalKeys,
} from "./shadow-tables.js";
import { type SqlClient, transaction } from "./sql.js";

export interface RebuildDeps {
  store: EventStore;
  prisma: PrismaClient;
  logger: Logger;
  /** Defaults to every registered projection. */
  projections?: readonly Projection[];
  /** The application's `pg` pool: when given, the rebuild writes through it (about twice as fast). */
  pool?: pg.Pool;
  /** Events per shadow transaction (tests make it small to exercise paging). */
  pageSize?: number;
}

export interface RebuildProgress {
  projection: string;
  replayed: number;
  total: number;
}

export interface RebuildResult {
  projections: string[];
  eventsReplayed: number;
  durationMs: number;
}

export interface ProjectionInfo {
  name: string;
  /** Version of the code running now. */
  version: number;
  /** Version the stored read model was built with; null when never built. */
  storedVersion: number | null;
  position: string | null;
  updatedAt: Date | null;
  /** The stored read model is older than the code: the next start (or a rebuild) rebuilds it. */
  needsRebuild: boolean;
}

/** Events per page (and shadow transaction) at most: big for throughput. */
const PAGE_SIZE = 5_000;
/**
 * Event data per page at most, whatever the events' sizes: with the page being written and the next
 * one read ahead, about twice this is in memory at once.
 */
const PAGE_BYTES = 8 * 1024 * 1024;
/** The folded runs kept between pages are forgotten after this much event data has gone into them. */
const CACHE_BYTES = 32 * 1024 * 1024;
/** The swap waits this long for readers' locks before giving up and trying again. */
const SWAP_LOCK_TIMEOUT_MS = 2_000;
const SWAP_ATTEMPTS = 5;
/** Serializes rebuilds of one projection across processes (advisory lock key namespace). */
const REBUILD_LOCK = 72_616_003;

export async function listProjections(
  deps: Pick<RebuildDeps, "prisma" | "projections">,
): Promise<ProjectionInfo[]> {
  const rows = await deps.prisma.projectionCheckpoint.findMany();
  return (deps.projections ?? PROJECTIONS).map((projection) => {
    const row = rows.find((candidate) => candidate.name === projection.name);
    return {
      name: projection.name,
      version: projection.version,
      storedVersion: row?.version ?? null,
      position: row?.position || null,
      updatedAt: row?.updatedAt ?? null,
      needsRebuild: row !== undefined && row.version < projection.version,
    };
  });
}

/**
 * Rebuilds the named projections (all when `names` is null or empty) from the whole event history.
 * Readers keep the old tables until the new ones are complete and swapped in, in one short transaction.
 */
export async function rebuildProjections(
  deps: RebuildDeps,
  names: string[] | null,
  onProgress?: (progress: RebuildProgress) => void,
): Promise<RebuildResult> {
  const started = performance.now();
  const projections = projectionsNamed(names, deps.projections ?? PROJECTIONS);
  let eventsReplayed = 0;
  for (const projection of projections) {
    eventsReplayed += await withRebuildLock(deps, projection, () => rebuild(deps, projection, onProgress));
  }
  return {
    projections: projections.map((projection) => projection.name),
    eventsReplayed,
    durationMs: Math.round(performance.now() - started),
  };
}

/** At start: rebuild unless another process already did while this one waited for the lock. */
export async function rebuildForVersionChange(deps: RebuildDeps, projection: Projection): Promise<void> {
  await withRebuildLock(deps, projection, async () => {
    const checkpoint = await readCheckpoint(deps.prisma, projection.name);
    if (checkpoint && checkpoint.version >= projection.version) return 0;
    deps.logger.warn(
      { projection: projection.name, from: checkpoint?.version ?? null, to: projection.version },
      "projection version changed: rebuilding",
    );
    return rebuild(deps, projection, undefined);
  });
}

/**
 * The lock is held by a transaction that writes nothing, for as long as the rebuild runs on other
 * connections.
 */
async function withRebuildLock(
  deps: RebuildDeps,
  projection: Projection,
  work: () => Promise<number>,
): Promise<number> {
  return deps.prisma.$transaction(
    async (tx) => {
      await tx.$queryRawUnsafe(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))::text",
        REBUILD_LOCK,
        projection.name,
      );
      return work();
    },
    { timeout: 24 * 3_600_000, maxWait: 24 * 3_600_000 },
  );
}

async function rebuild(
  deps: RebuildDeps,
  projection: Projection,
  onProgress: ((progress: RebuildProgress) => void) | undefined,
): Promise<number> {
  const { prisma, store, logger } = deps;
  const log = logger.child({ projection: projection.name });
  const started = performance.now();
  const schema = shadowSchema(projection);
  // The rebuild is the only writer of the shadow tables, so folded runs can stay in memory, within
  // CACHE_BYTES of event data folded into them; after that they are read back from the shadow tables.
  const cache = new Map<string, unknown>();
  let cachedBytes = 0;
  let total = (await store.countEvents?.(projection.streamPrefix)) ?? 0;
  let replayed = 0;
  let position = START;
  const report = () => {
    total = Math.max(total, replayed);
    onProgress?.({ projection: projection.name, replayed, total });
  };
  const pageSize = deps.pageSize ?? PAGE_SIZE;
  // Pages cut by PAGE_BYTES ask for fewer events next time, so the store sizes few events it will not send.
  let count = pageSize;
  const read = async (after: string) => {
    const page = await store.readAll({
      after: after || null,
      maxCount: count,
      maxBytes: PAGE_BYTES,
      streamPrefix: projection.streamPrefix,
    });
    count = page.length >= count ? Math.min(count * 2, pageSize) : Math.max(page.length * 2, 16);
    return page;
  };
  const applyPage = async (sql: SqlClient, events: StoredEvent[]) => {
    cachedBytes += events.reduce((bytes, event) => bytes + JSON.stringify(event.data).length, 0);
    if (cachedBytes > CACHE_BYTES) {
      cache.clear();
      cachedBytes = 0;
    }
    await projection.apply(sql, schema, events, cache);
    replayed += events.length;
    position = events.at(-1)?.position ?? position;
  };
  /** Replays pages until the store has no more: the shadow is then near the head of the store. */
  const catchUp = async () => {
    let page = await read(position);
    while (page.length > 0) {
      const last = page.at(-1)?.position ?? position;
      // Read the next page while this one is written: two pages in memory at most.
      const next = read(last);
      const events = page;
      await transaction(deps, (tx) => applyPage(tx, events));
      report();
      page = await next;
    }
  };

  try {
    await ensureCheckpoint(prisma, projection.name, projection.version);
    await transaction(deps, (tx) => createShadowTables(tx, projection));
    report();
    await catchUp();
    await transaction(deps, (tx) => completeShadowTables(tx, projection));
    await catchUp();
    const replayedBeforeSwap = replayed;
    const external = await swap(
      deps,
      projection,
      applyPage,
      read,
      () => position,
      (saved) => {
        // The failed attempt's writes to the shadow were rolled back: forget what they folded.
        position = saved;
        replayed = replayedBeforeSwap;
        cache.clear();
        cachedBytes = 0;
      },
    );
    report();
    await validateExternalKeys(prisma, external).catch((error) =>
      log.error({ err: error }, "a foreign key into the rebuilt tables does not hold"),
    );
    log.info(
      { events: replayed, durationMs: Math.round(performance.now() - started) },
      "projection rebuilt and swapped in",
    );
    return replayed;
  } finally {
    await dropRebuildSchemas(prisma, projection).catch((error) =>
      log.warn({ err: error }, "could not drop the rebuild's schemas"),
    );
  }
}

/**
 * One short transaction: lock the checkpoint (every process's follower waits), apply what came in
 * since the catch-up, swap the tables and move the checkpoint to where the new tables are. Retried
 * when readers' locks or a deadlock get in the way.
 */
async function swap(
  deps: RebuildDeps,
  projection: Projection,
  applyPage: (sql: SqlClient, events: StoredEvent[]) => Promise<void>,
  read: (after: string) => Promise<StoredEvent[]>,
  position: () => string,
  undo: (savedPosition: string) => void,
) {
  for (let attempt = 1; ; attempt++) {
    const saved = position();
    try {
      return await transaction(deps, async (tx) => {
        await tx.$executeRawUnsafe(`SET LOCAL lock_timeout = ${SWAP_LOCK_TIMEOUT_MS}`);
        const locked = await lockCheckpoint(tx, projection.name);
        if (!locked) throw new Error(`checkpoint of projection ${projection.name} is missing`);
        // Saved by an earlier version of the store, it would not compare with the positions read now.
        const checkpoint = locked.position
          ? { ...locked, position: await deps.store.normalizePosition(locked.position) }
          : locked;
        for (let page = await read(position()); page.length > 0; page = await read(position())) {
          await applyPage(tx, page);
        }
        if (position() < checkpoint.position) {
          throw new Error(
            `rebuilt ${projection.name} reached ${position()}, behind its checkpoint ${checkpoint.position}`,
          );
        }
        const external = await swapShadowTables(tx, projection);
        await saveCheckpoint(tx, {
          name: projection.name,
          version: projection.version,
          position: position(),
        });
        return external;
      });
    } catch (error) {
      undo(saved);
      const code = (error as { meta?: { code?: string } }).meta?.code ?? "";
      if (attempt >= SWAP_ATTEMPTS) throw error;
      deps.logger.warn({ err: error, code, attempt }, "swapping the rebuilt tables failed; trying again");
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}
