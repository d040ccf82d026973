import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../config/logger.js";
import type { EventStore } from "../event-store/event-store.js";
import type { PipelineModule, PipelineStepDefinition, StepContext } from "../pipelines/pipeline.js";
import type { PipelineRegistry } from "../pipelines/registry.js";
import type { WorkerCommand } from "../runs/commands.js";
import { executeRunCommand } from "../runs/execute.js";
import { nextStep, type Run, type StepState } from "../runs/state.js";
import { DomainError, InvalidInputError } from "../shared/errors.js";
import type { Json } from "../shared/json.js";
import type { LeaseBook } from "./leases.js";
import { retryDelayMs } from "./retry-policy.js";
import { lostReason, type RunTracker } from "./run-tracker.js";
import { runStepHandler, type StepExecution } from "./step-handler.js";
import type { StepThreads } from "./step-threads.js";

export interface ExecutorDeps {
  store: EventStore;
  pipelines: PipelineRegistry;
  leases: LeaseBook;
  logger: Logger;
  workerId: string;
  heartbeatMs: number;
  maxOutputBytes: number;
  /** Time budget of a step, unless its pipeline sets its own. */
  stepTimeoutMs: number;
  threads: StepThreads;
}

/** Longest a command is retried while the database does not answer (a stall, a restart). */
const COMMAND_RETRY_WINDOW_MS = 120_000;
const COMMAND_RETRY_MAX_PAUSE_MS = 1_000;

/** The run is no longer this worker's (cancelled, failed as stale, taken over): stop quietly. */
class RunLostError extends Error {
  override name = "RunLostError";
}

type CommandFields<Type extends WorkerCommand["type"]> = Omit<
  Extract<WorkerCommand, { type: Type }>,
  "type" | "runId" | "now" | "workerId"
>;

/**
 * Executes a run this worker has just claimed, step after step, until it completes, waits for a
 * person's choice, fails, or stops being this worker's. Heartbeats renew the lease and re-read the
 * stream; a cancelled or taken-over run aborts the running step's signal within one heartbeat.
 */
export async function executeClaimedRun(
  deps: ExecutorDeps,
  tracker: RunTracker,
  stop: AbortSignal,
): Promise<void> {
  const { store, leases, workerId } = deps;
  const { runId } = tracker;
  const logger = deps.logger.child({ runId });
  const lost = new AbortController();
  const signal = AbortSignal.any([lost.signal, stop]);

  /**
   * Sends a command of this worker. When the store fails (not a refusal: the database stalled or
   * restarted), the command is retried until it gets through, so the run carries on as soon as the
   * database is back instead of being dropped by its own worker. A retry refused by the decider may
   * mean the first try was written after all: the stream then says where the run is.
   */
  const send = async <Type extends WorkerCommand["type"]>(
    type: Type,
    fields: CommandFields<Type>,
  ): Promise<Run> => {
    const giveUpAt = Date.now() + COMMAND_RETRY_WINDOW_MS;
    for (let retry = 0; ; retry++) {
      const command = { type, runId, now: new Date().toISOString(), workerId, ...fields } as WorkerCommand;
      try {
        return tracker.accept(await executeRunCommand(store, command));
      } catch (error) {
        if (error instanceof DomainError) {
          if (retry === 0 || error instanceof InvalidInputError) throw error;
          const state = await tracker.refresh();
          if (lostReason(state, workerId)) throw error;
          return state;
        }
        if (signal.aborted || Date.now() >= giveUpAt) throw error;
        logger.warn({ err: error, command: type, retry }, "command failed; retrying");
        await sleep(Math.min(COMMAND_RETRY_MAX_PAUSE_MS, 100 * 2 ** retry), undefined, { signal });
      }
    }
  };

  let beating = false;
  const heartbeat = setInterval(async () => {
    if (beating || signal.aborted) return;
    beating = true;
    try {
      const reason = lostReason(await tracker.refresh(), workerId);
      if (reason) {
        lost.abort(new RunLostError(reason));
        return;
      }
      // A missing row (e.g. a read model rebuild) is written again: the stream says we hold the run.
      if (!(await leases.renew(runId))) await leases.restore(runId);
    } catch (error) {
      logger.warn({ err: error }, "heartbeat failed");
    } finally {
      beating = false;
    }
  }, deps.heartbeatMs);

  const reportProgress = (stepId: string) => async (progress: number | null, message?: string) => {
    signal.throwIfAborted();
    try {
      await send("ReportProgress", { stepId, progress, message: message ?? null });
    } catch (error) {
      if (error instanceof DomainError && !(error instanceof InvalidInputError)) {
        lost.abort(new RunLostError(error.message));
        throw signal.reason;
      }
      throw error;
    }
  };

  /** Runs one step; true to go on with the next one, false when this worker is done with the run. */
  const executeStep = async (run: Run, step: StepState): Promise<boolean> => {
    const pipeline = deps.pipelines.get(run.pipeline);
    const definition = pipeline?.steps.find((candidate) => candidate.id === step.id);
    const started = await send("StartStep", { stepId: step.id });
    const attempt = started.steps.find((candidate) => candidate.id === step.id)?.attempt ?? step.attempt;
    const outcome = definition
      ? await runStepHandler(
          executionOf(pipeline?.module, definition, deps.threads),
          stepContext(run, step, attempt, signal, reportProgress(step.id), deps),
          pipeline?.stepTimeoutMs ?? deps.stepTimeoutMs,
          step.id,
        )
      : ({
          kind: "failed",
          error: `pipeline ${run.pipeline} has no step ${step.id} in this worker`,
        } as const);
    switch (outcome.kind) {
      case "aborted":
        logger.info({ stepId: step.id, attempt, reason: outcome.reason }, "step aborted");
        return false;
      case "alternatives":
        await send("ProduceAlternatives", { stepId: step.id, alternatives: outcome.alternatives });
        return false;
      case "output":
        await send("CompleteStep", {
          stepId: step.id,
          output: outcome.output,
          truncated: outcome.truncated,
          message: outcome.message,
        });
        return true;
      case "failed":
        return failStep(step.id, attempt, outcome.error, definition);
    }
  };

  const failStep = async (
    stepId: string,
    attempt: number,
    error: string,
    definition: PipelineStepDefinition | undefined,
  ): Promise<boolean> => {
    const policy = definition?.retry;
    const retriesSoFar = tracker.state.steps.find((step) => step.id === stepId)?.automaticRetries ?? 0;
    const willRetry = policy !== undefined && retriesSoFar < policy.attempts;
    logger.info({ stepId, attempt, error, willRetry }, "step failed");
    await send("FailStep", { stepId, error, willRetry });
    if (!willRetry || !policy) return false;
    await sleep(retryDelayMs(policy.backoffMs, retriesSoFar), undefined, { signal });
    return true;
  };

  try {
    for (;;) {
      const run = tracker.state;
      if (signal.aborted || lostReason(run, workerId) || run.status !== "RUNNING") return;
      const step = nextStep(run);
      if (!step) {
        await send("CompleteRun", {});
        logger.debug("run completed");
        return;
      }
      if (step.status !== "PENDING" || !(await executeStep(run, step))) return;
    }
  } catch (error) {
    // A command refused because the run is no longer ours (or a wait cut short by the abort) ends
    // the work quietly; anything else is logged, and the lease then runs out for a takeover.
    if (signal.aborted || error instanceof DomainError) {
      logger.debug({ err: error }, "stopped working on the run");
    } else {
      logger.error({ err: error }, "executing the run failed");
    }
  } finally {
    clearInterval(heartbeat);
    // Shutting down mid-run: hand the run back at once, so the next worker claims it without
    // waiting for the lease to run out and without using up one of the run's takeovers.
    if (stop.aborted && !lostReason(tracker.state, workerId)) {
      await send("ReleaseRun", {}).catch((error) => logger.warn({ err: error }, "releasing the run failed"));
    }
    // Done with it (or shutting down): our lease row goes, so another worker need not wait for it.
    await leases.release(runId).catch((error) => logger.warn({ err: error }, "releasing the lease failed"));
  }
}

/** Steps of pipelines with a module run in a worker thread; in-code (test) pipelines run here. */
function executionOf(
  module: PipelineModule | undefined,
  definition: PipelineStepDefinition,
  threads: StepThreads,
): StepExecution {
  if (!module) return (context) => definition.run(context);
  return (context) =>
    threads.run(
      {
        module,
        stepId: definition.id,
        runId: context.runId,
        input: context.input,
        outputs: context.outputs,
        attempt: context.attempt,
        limits: context.limits,
      },
      { signal: context.signal, reportProgress: context.reportProgress },
    );
}

function stepContext(
  run: Run,
  step: StepState,
  attempt: number,
  signal: AbortSignal,
  reportProgress: StepContext["reportProgress"],
  deps: ExecutorDeps,
): StepContext {
  const outputs: Record<string, Json> = {};
  for (const earlier of run.steps) {
    if (earlier.index < step.index && earlier.status === "COMPLETED") outputs[earlier.id] = earlier.output;
  }
  return {
    runId: run.id,
    input: run.input,
    outputs,
    attempt,
    signal,
    reportProgress,
    limits: { maxOutputBytes: deps.maxOutputBytes },
  };
}
