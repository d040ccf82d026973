import { randomBytes } from "node:crypto";
import { availableParallelism, hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { AppContext } from "../app/app-context.js";
import { RUN_STREAM_PREFIX } from "../runs/events.js";
import { executeRunCommand } from "../runs/execute.js";
import { DomainError } from "../shared/errors.js";
import { Wakeup } from "../shared/wakeup.js";
import { type ClaimableRun, findClaimableRuns } from "./claimable-runs.js";
import { LeaseBook } from "./leases.js";
import { executeClaimedRun } from "./run-executor.js";
import { RunTracker } from "./run-tracker.js";
import { StepThreads } from "./step-threads.js";
import { type RunningSweeper, startSweeper } from "./sweeper.js";

export interface RunningWorker {
  id: string;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  /** Defaults to host, pid and a random suffix. */
  id?: string;
  /** Runs executed at once; defaults to WORKER_CONCURRENCY. */
  concurrency?: number;
  /** Run the stale-run sweeper in this worker (default true). */
  sweeper?: boolean;
}

/** Shortest pause between two looks for claimable runs, however many events wake the loop. */
const MIN_CLAIM_GAP_MS = 10;

const shuffle = <T>(items: T[]): T[] => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
};

/**
 * Claims runs from the read model through the run's stream (ClaimRun with the expected revision, so
 * two workers never both win), executes up to `concurrency` of them at once, and sweeps stale runs.
 */
export async function startWorker(ctx: AppContext, options: WorkerOptions = {}): Promise<RunningWorker> {
  const { config, store, prisma } = ctx;
  const id = options.id ?? `worker-${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const concurrency = options.concurrency ?? config.WORKER_CONCURRENCY;
  const logger = ctx.logger.child({ component: "worker", workerId: id });
  const leases = new LeaseBook(prisma, id, config.LEASE_MS);
  const stopping = new AbortController();
  const active = new Map<string, Promise<void>>();
  const wakeup = new Wakeup();
  // More threads than cores only share the same CPUs, each with its own parser and heap.
  const threads = new StepThreads({
    memoryMb: config.STEP_MEMORY_MB,
    size: Math.min(concurrency, config.STEP_THREADS ?? availableParallelism()),
    preload: ctx.pipelines.list().flatMap((pipeline) => (pipeline.module ? [pipeline.module.url] : [])),
  });
  const executorDeps = {
    store,
    pipelines: ctx.pipelines,
    leases,
    logger,
    workerId: id,
    heartbeatMs: config.HEARTBEAT_MS,
    maxOutputBytes: config.MAX_STEP_OUTPUT_BYTES,
    stepTimeoutMs: config.STEP_TIMEOUT_MS,
    threads,
  };

  const claimCommand = (runId: string, currentLeaseExpired: boolean) =>
    ({
      type: "ClaimRun",
      runId,
      now: new Date().toISOString(),
      workerId: id,
      leaseMs: config.LEASE_MS,
      currentLeaseExpired,
      maxTakeovers: config.MAX_TAKEOVERS,
    }) as const;

  const claim = async (candidate: ClaimableRun): Promise<RunTracker | null> => {
    try {
      let result = await executeRunCommand(store, claimCommand(candidate.id, candidate.takeover), {
        expectedRevision: candidate.revision,
      });
      if (result.events.length === 0 && result.state.exists && result.state.workerId === id) {
        // Held by this worker already, yet not executing here: its execution gave up (e.g. the
        // database was away too long). Claiming it again would change nothing and leave its
        // interrupted step RUNNING forever; hand it back and claim it afresh so that step starts over.
        const now = new Date().toISOString();
        await executeRunCommand(store, { type: "ReleaseRun", runId: candidate.id, now, workerId: id });
        result = await executeRunCommand(store, claimCommand(candidate.id, false));
        logger.info({ runId: candidate.id }, "re-claimed a run whose execution here had stopped");
      }
      if (!result.state.exists || result.state.workerId !== id || result.revision === null) return null;
      await leases
        .hold(candidate.id)
        .catch((error) => logger.warn({ err: error, runId: candidate.id }, "writing the lease failed"));
      logger.debug({ runId: candidate.id, takeover: candidate.takeover }, "claimed run");
      return new RunTracker(store, candidate.id, result.state, result.revision);
    } catch (error) {
      // Someone else claimed it first, or the read model was behind: not ours, nothing written.
      if (error instanceof DomainError) return null;
      throw error;
    }
  };

  const launch = (tracker: RunTracker): void => {
    const execution = executeClaimedRun(executorDeps, tracker, stopping.signal)
      .catch((error) => logger.error({ err: error, runId: tracker.runId }, "run execution crashed"))
      .finally(() => {
        active.delete(tracker.runId);
        wakeup.set();
      });
    active.set(tracker.runId, execution);
  };

  const fillSlots = async (): Promise<void> => {
    const free = concurrency - active.size;
    if (free <= 0) return;
    const candidates = await findClaimableRuns(prisma, {
      now: new Date(),
      // A few more than the free slots, shuffled, so workers polling together rarely pick the same run.
      limit: free + concurrency + 4,
      maxTakeovers: config.MAX_TAKEOVERS,
      exclude: [...active.keys()],
    });
    for (const candidate of shuffle(candidates)) {
      if (active.size >= concurrency || stopping.signal.aborted) return;
      const tracker = await claim(candidate);
      if (tracker) launch(tracker);
    }
  };

  const claimLoop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        const seen = wakeup.takePosition();
        // New events reach the read model through the projections: wait for them to be applied.
        if (seen && active.size < concurrency) {
          await ctx.projections.waitFor(seen, config.WORKER_POLL_MS).catch(() => undefined);
        }
        await fillSlots();
      } catch (error) {
        logger.error({ err: error }, "looking for runs to claim failed");
      }
      await sleep(MIN_CLAIM_GAP_MS);
      await wakeup.wait(config.WORKER_POLL_MS, stopping.signal);
    }
  };

  const follow = async (): Promise<void> => {
    // Start where the read model is (older events are in it already); if unknown, poll only.
    const statuses = await ctx.projections.status().catch(() => null);
    if (!statuses) return;
    let after: string | null = statuses.map((status) => status.position ?? "").sort()[0] || null;
    while (!stopping.signal.aborted) {
      try {
        for await (const event of store.subscribeToAll({
          after,
          streamPrefix: RUN_STREAM_PREFIX,
          signal: stopping.signal,
        })) {
          after = event.position;
          wakeup.set(event.position);
        }
      } catch (error) {
        logger.warn({ err: error }, "following new events failed; polling until it resumes");
        await sleep(config.WORKER_POLL_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    }
  };

  const sweeper: RunningSweeper | null =
    options.sweeper === false
      ? null
      : startSweeper(
          { store, prisma, logger },
          {
            maxTakeovers: config.MAX_TAKEOVERS,
            staleAfterMs: config.STALE_AFTER_MS,
            intervalMs: config.SWEEP_INTERVAL_MS,
          },
        );
  const loops = [claimLoop(), follow()];
  logger.info({ concurrency }, "worker started");

  return {
    id,
    async stop() {
      stopping.abort(new Error("the worker is stopping"));
      await Promise.allSettled(loops);
      await Promise.allSettled(active.values());
      await sweeper?.stop();
      await threads.close();
      logger.info("worker stopped");
    },
  };
}
