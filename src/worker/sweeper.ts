import type { Logger } from "../config/logger.js";
import type { PrismaClient } from "../db/prisma.js";
import type { EventStore } from "../event-store/event-store.js";
import { executeRunCommand } from "../runs/execute.js";
import { holderHeartbeatExpiry, isLeaseExpired, rowLeaseExpiry } from "../runs/lease.js";
import { DomainError } from "../shared/errors.js";

export interface SweeperDeps {
  store: EventStore;
  prisma: PrismaClient;
  logger: Logger;
}

export interface SweepSettings {
  maxTakeovers: number;
  staleAfterMs: number;
}

export interface SweepResult {
  /** Runs this sweep failed as stale. */
  failed: string[];
  /** Candidates someone else handled first, or that turned out healthy (the decider refused). */
  skipped: number;
}

/** Runs looked at per sweep; the next sweep gets the rest. */
const SWEEP_BATCH = 500;

/**
 * Fails runs held by a worker that will not finish them: the lease expired and no takeover is left,
 * or nothing happened for STALE_AFTER_MS. Safe in any number of processes at once: each FailStaleRun
 * carries the revision the read model showed, so a run that moved on (or that another sweeper failed
 * first) conflicts and is skipped; the decider itself refuses runs that are healthy.
 */
export async function sweepStaleRuns(
  deps: SweeperDeps,
  settings: SweepSettings,
  now = new Date(),
): Promise<SweepResult> {
  const silentSince = new Date(now.getTime() - settings.staleAfterMs);
  const candidates = await deps.prisma.run.findMany({
    where: {
      status: { in: ["PENDING", "RUNNING"] },
      workerId: { not: null },
      OR: [
        // The claim's lease is a lower bound of the effective expiry: heartbeats are checked below.
        {
          takeovers: { gte: settings.maxTakeovers },
          OR: [{ leaseExpiresAt: null }, { leaseExpiresAt: { lte: now } }],
        },
        { updatedAt: { lte: silentSince } },
      ],
    },
    select: {
      id: true,
      revision: true,
      workerId: true,
      leaseExpiresAt: true,
      takeovers: true,
      updatedAt: true,
      lease: { select: { workerId: true, expiresAt: true } },
    },
    orderBy: { updatedAt: "asc" },
    take: SWEEP_BATCH,
  });
  const result: SweepResult = { failed: [], skipped: 0 };
  for (const run of candidates) {
    const expired = isLeaseExpired(rowLeaseExpiry(run), now);
    const silentMs = now.getTime() - run.updatedAt.getTime();
    let reason: string | null = null;
    if (expired && run.takeovers >= settings.maxTakeovers) {
      reason = `lease of worker ${run.workerId} expired after ${run.takeovers} takeover(s) (limit ${settings.maxTakeovers})`;
    } else if (silentMs >= settings.staleAfterMs) {
      reason = `no progress for ${silentMs} ms while held by worker ${run.workerId}`;
    }
    if (!reason) continue;
    try {
      await executeRunCommand(
        deps.store,
        {
          type: "FailStaleRun",
          runId: run.id,
          now: now.toISOString(),
          reason,
          heartbeatExpiresAt: holderHeartbeatExpiry(run)?.toISOString() ?? null,
          staleAfterMs: settings.staleAfterMs,
        },
        { expectedRevision: run.revision },
      );
      result.failed.push(run.id);
      deps.logger.info({ runId: run.id, reason }, "failed a stale run");
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      result.skipped++;
      deps.logger.debug({ runId: run.id, err: error }, "stale run candidate skipped");
    }
  }
  return result;
}

export interface RunningSweeper {
  /** Resolves with the first sweep's result (the one at start). */
  firstSweep: Promise<SweepResult | null>;
  stop(): Promise<void>;
}

/** Sweeps at start and then every `intervalMs`; a sweep still going makes the next tick skip. */
export function startSweeper(
  deps: SweeperDeps,
  settings: SweepSettings & { intervalMs: number },
): RunningSweeper {
  let running: Promise<SweepResult | null> | null = null;
  let stopped = false;
  const sweep = (): Promise<SweepResult | null> => {
    if (running) return running;
    if (stopped) return Promise.resolve(null);
    running = sweepStaleRuns(deps, settings)
      .catch((error) => {
        deps.logger.error({ err: error }, "sweeping stale runs failed");
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const firstSweep = sweep();
  const timer = setInterval(() => void sweep(), settings.intervalMs);
  return {
    firstSweep,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
