import { ConflictError, InvalidInputError, InvalidStateError, NotFoundError } from "../shared/errors.js";
import { jsonEqual } from "../shared/json.js";
import type { RunCommand, StartRun } from "./commands.js";
import type { RunEvent } from "./events.js";
import { isLeaseExpired, leaseExpiry } from "./lease.js";
import { isFinishedStep, isTerminal, nextStep, type Run, type RunState, type StepState } from "./state.js";

const ACTIVE_STATUSES = new Set(["PENDING", "RUNNING"]);

function existing(state: RunState, runId: string): Run {
  if (!state.exists) throw new NotFoundError(`run ${runId} does not exist`);
  return state;
}

function stepOf(run: Run, stepId: string): StepState {
  const step = run.steps.find((candidate) => candidate.id === stepId);
  if (!step) throw new NotFoundError(`run ${run.id} has no step ${stepId}`);
  return step;
}

function heldBy(run: Run, workerId: string): void {
  if (run.workerId !== workerId) {
    throw new InvalidStateError(
      `worker ${workerId} does not hold run ${run.id} (held by ${run.workerId ?? "nobody"})`,
    );
  }
}

function runningStep(run: Run, stepId: string): StepState {
  const step = stepOf(run, stepId);
  if (step.status !== "RUNNING") throw new InvalidStateError(`step ${stepId} is ${step.status}, not RUNNING`);
  return step;
}

/** Re-executing steps while one of them runs would race the worker executing it. */
function noStepRunning(run: Run): void {
  const running = run.steps.find((step) => step.status === "RUNNING");
  if (running)
    throw new InvalidStateError(`step ${running.id} is running; cancel the run or wait for the step`);
}

/** An executed step goes to its next attempt; a step never executed keeps its first. */
const attemptAfterReset = (step: StepState): number =>
  step.status === "PENDING" ? step.attempt : step.attempt + 1;

/**
 * The new attempt of `from` and of every step after it: a step re-executed changes the inputs of the
 * steps after it, so none of them may keep a result made from its previous output.
 */
const attemptsFrom = (run: Run, from: StepState): Record<string, number> =>
  Object.fromEntries(
    run.steps.filter((step) => step.index >= from.index).map((step) => [step.id, attemptAfterReset(step)]),
  );

/** The worker executes steps in order: an unfinished earlier step would stop it before `step`. */
function earlierStepsFinished(run: Run, step: StepState, allowPending: boolean): void {
  const unfinished = run.steps.find(
    (other) =>
      other.index < step.index && !isFinishedStep(other) && !(allowPending && other.status === "PENDING"),
  );
  if (unfinished) {
    throw new InvalidStateError(
      `step ${unfinished.id} before ${step.id} is ${unfinished.status}; resume from ${unfinished.id} instead (it re-executes ${step.id} too)`,
    );
  }
}

/**
 * A reused idempotency key names the run it started. The same request again is answered with that
 * run; another request under the same key is a client bug that must not pass silently.
 */
function sameStart(run: Run, command: StartRun): boolean {
  if (command.idempotencyKey === null || run.idempotencyKey !== command.idempotencyKey) {
    throw new InvalidStateError(`run ${command.runId} already exists`);
  }
  if (run.pipeline !== command.pipeline || !jsonEqual(run.input, command.input)) {
    const what = run.pipeline !== command.pipeline ? `pipeline ${run.pipeline}` : "another input";
    throw new ConflictError(
      `idempotencyKey ${JSON.stringify(command.idempotencyKey)} was already used to start run ${run.id} with ${what}; use a new key for a different request`,
    );
  }
  return true;
}

export function decide(command: RunCommand, state: RunState): RunEvent[] {
  const at = command.now;
  switch (command.type) {
    case "StartRun": {
      if (state.exists && sameStart(state, command)) return [];
      if (command.steps.length === 0)
        throw new InvalidInputError(`pipeline ${command.pipeline} has no steps`);
      const { runId, workspaceId, pipeline, steps, input, idempotencyKey } = command;
      return [
        { type: "RunStarted", data: { runId, workspaceId, pipeline, steps, input, idempotencyKey, at } },
      ];
    }
    case "RetryStep": {
      const run = existing(state, command.runId);
      const step = stepOf(run, command.stepId);
      // A completed run's results are final, a cancelled one was stopped on purpose: going back on
      // either is what resumeFromStep and rerunRun are for.
      if (run.status === "COMPLETED" || run.status === "CANCELLED") {
        throw new InvalidStateError(
          `run ${run.id} is ${run.status}; retryStep only retries steps of an active or FAILED run: resumeFromStep(${step.id}) re-executes ${step.id} and every step after it, rerunRun the whole run`,
        );
      }
      noStepRunning(run);
      if (step.status === "PENDING") throw new InvalidStateError(`step ${step.id} has not been executed yet`);
      earlierStepsFinished(run, step, false);
      const attempts = attemptsFrom(run, step);
      return [{ type: "StepRetried", data: { stepId: step.id, attempt: step.attempt + 1, attempts, at } }];
    }
    case "ResumeFromStep": {
      const run = existing(state, command.runId);
      const from = stepOf(run, command.stepId);
      noStepRunning(run);
      earlierStepsFinished(run, from, true);
      return [{ type: "RunResumed", data: { fromStepId: from.id, attempts: attemptsFrom(run, from), at } }];
    }
    case "SelectAlternative": {
      const run = existing(state, command.runId);
      const step = stepOf(run, command.stepId);
      if (step.status !== "AWAITING_SELECTION" || !step.alternatives) {
        throw new InvalidStateError(`step ${step.id} is ${step.status}, not AWAITING_SELECTION`);
      }
      const { index } = command;
      if (!Number.isInteger(index) || index < 0 || index >= step.alternatives.length) {
        throw new InvalidInputError(
          `index ${index} is out of range: step ${step.id} has ${step.alternatives.length} alternatives`,
        );
      }
      return [{ type: "AlternativeSelected", data: { stepId: step.id, attempt: step.attempt, index, at } }];
    }
    case "CancelRun": {
      const run = existing(state, command.runId);
      if (isTerminal(run)) throw new InvalidStateError(`run ${run.id} is already ${run.status}`);
      return [{ type: "RunCancelled", data: { reason: command.reason, at } }];
    }
    case "RerunRun": {
      const run = existing(state, command.runId);
      if (!isTerminal(run))
        throw new InvalidStateError(`run ${run.id} is ${run.status}; only finished runs can be rerun`);
      const attempts = Object.fromEntries(run.steps.map((step) => [step.id, attemptAfterReset(step)]));
      return [{ type: "RunRerun", data: { attempts, at } }];
    }
    case "FailStaleRun": {
      const run = existing(state, command.runId);
      if (!ACTIVE_STATUSES.has(run.status) || run.workerId === null) {
        throw new InvalidStateError(
          `run ${run.id} is ${run.status} and held by no worker, so it cannot be stale`,
        );
      }
      const leaseExpired = isLeaseExpired(leaseExpiry(run.leaseExpiresAt, command.heartbeatExpiresAt), at);
      const silentFor = Date.parse(at) - Date.parse(run.updatedAt);
      if (!leaseExpired && silentFor < command.staleAfterMs) {
        throw new InvalidStateError(
          `run ${run.id} is healthy: its worker holds a live lease and it progressed ${silentFor} ms ago`,
        );
      }
      const reason =
        command.reason ?? (leaseExpired ? "worker stopped reporting" : `no progress for ${silentFor} ms`);
      return [{ type: "RunFailed", data: { error: `stale: ${reason}`, reason: "stale", at } }];
    }
    case "ClaimRun": {
      const run = existing(state, command.runId);
      if (!ACTIVE_STATUSES.has(run.status))
        throw new InvalidStateError(`run ${run.id} is ${run.status}, nothing to claim`);
      if (run.workerId === command.workerId) return [];
      const takeover = run.workerId !== null;
      if (takeover && !command.currentLeaseExpired) {
        throw new InvalidStateError(`run ${run.id} is held by worker ${run.workerId} whose lease is live`);
      }
      if (takeover && run.takeovers >= command.maxTakeovers) {
        throw new InvalidStateError(`run ${run.id} reached its limit of ${command.maxTakeovers} takeovers`);
      }
      const leaseExpiresAt = new Date(Date.parse(at) + command.leaseMs).toISOString();
      return [{ type: "RunClaimed", data: { workerId: command.workerId, leaseExpiresAt, takeover, at } }];
    }
    case "ReleaseRun": {
      const run = existing(state, command.runId);
      heldBy(run, command.workerId);
      return [{ type: "RunReleased", data: { workerId: command.workerId, at } }];
    }
    case "StartStep": {
      const run = existing(state, command.runId);
      heldBy(run, command.workerId);
      const step = stepOf(run, command.stepId);
      if (nextStep(run)?.id !== step.id || step.status !== "PENDING") {
        throw new InvalidStateError(`step ${step.id} is ${step.status} and not the next step to execute`);
      }
      return [
        {
          type: "StepStarted",
          data: { stepId: step.id, attempt: step.attempt, workerId: command.workerId, at },
        },
      ];
    }
    case "ReportProgress": {
      const run = existing(state, command.runId);
      heldBy(run, command.workerId);
      const step = runningStep(run, command.stepId);
      const { progress, message } = command;
      if (progress !== null && !(progress >= 0 && progress <= 1)) {
        throw new InvalidInputError(`progress must be between 0 and 1, got ${progress}`);
      }
      return [
        { type: "StepProgressed", data: { stepId: step.id, attempt: step.attempt, progress, message, at } },
      ];
    }
    case "ProduceAlternatives": {
      const run = existing(state, command.runId);
      heldBy(run, command.workerId);
      const step = runningStep(run, command.stepId);
      if (command.alternatives.length === 0)
        throw new InvalidInputError("a step needs at least one alternative");
      return [
        {
          type: "AlternativesProduced",
          data: { stepId: step.id, attempt: step.attempt, alternatives: command.alternatives, at },
        },
      ];
    }
    case "CompleteStep": {
      const run = existing(state, command.runId);
      heldBy(run, command.workerId);
      const step = runningStep(run, command.stepId);
      const { output, truncated, message } = command;
      return [
        {
          type: "StepCompleted",
          data: { stepId: step.id, attempt: step.attempt, output, truncated, message, at },
        },
      ];
    }
    case "FailStep": {
      const run = existing(state, command.runId);
      heldBy(run, command.workerId);
      const step = runningStep(run, command.stepId);
      const failed: RunEvent = {
        type: "StepFailed",
        data: {
          stepId: step.id,
          attempt: step.attempt,
          error: command.error,
          willRetry: command.willRetry,
          at,
        },
      };
      if (command.willRetry) return [failed];
      const error = `step ${step.id} failed: ${command.error}`;
      return [failed, { type: "RunFailed", data: { error, reason: "step-failed", at } }];
    }
    case "CompleteRun": {
      const run = existing(state, command.runId);
      heldBy(run, command.workerId);
      const unfinished = run.steps.find((step) => !isFinishedStep(step));
      if (unfinished)
        throw new InvalidStateError(`step ${unfinished.id} is ${unfinished.status}; the run cannot complete`);
      return [{ type: "RunCompleted", data: { stepCount: run.steps.length, at } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${(unknown as { type: string }).type}`);
    }
  }
}
