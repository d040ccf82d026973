import type { StoredEvent } from "../event-store/event-store.js";
import type { Json } from "../shared/json.js";
import { type RunEvent, toRunEvent } from "./events.js";

export type RunStatus = "PENDING" | "RUNNING" | "AWAITING_INPUT" | "COMPLETED" | "FAILED" | "CANCELLED";
export type StepStatus = "PENDING" | "RUNNING" | "AWAITING_SELECTION" | "COMPLETED" | "FAILED" | "SKIPPED";

export interface StepState {
  id: string;
  name: string;
  index: number;
  status: StepStatus;
  /** 1 for the first execution, +1 for each retry, resume or rerun that re-executes it. */
  attempt: number;
  /** Automatic retries (StepFailed with willRetry) since a person last had the step re-executed. */
  automaticRetries: number;
  progress: number | null;
  message: string | null;
  output: Json | null;
  /** The output was cut by a configured limit (the message says so). */
  outputTruncated: boolean;
  alternatives: Json[] | null;
  selectedIndex: number | null;
  error: string | null;
  startedAt: string | null;
  completedAt: string | null;
}

export interface Run {
  exists: true;
  id: string;
  workspaceId: string;
  pipeline: string;
  input: Json;
  idempotencyKey: string | null;
  status: RunStatus;
  steps: StepState[];
  error: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  /** Worker holding the run; null while the run waits for a worker or for nobody. */
  workerId: string | null;
  /** Lease granted with the last claim; heartbeats extend it outside the stream. */
  leaseExpiresAt: string | null;
  takeovers: number;
}

export type RunState = { exists: false } | Run;

export const initialState = (): RunState => ({ exists: false });

export const TERMINAL_STATUSES: readonly RunStatus[] = ["COMPLETED", "FAILED", "CANCELLED"];
export const isTerminal = (run: Run): boolean => TERMINAL_STATUSES.includes(run.status);
export const isFinishedStep = (step: StepState): boolean =>
  step.status === "COMPLETED" || step.status === "SKIPPED";

/** The step a worker executes next: the first one not finished. */
export const nextStep = (run: Run): StepState | undefined => run.steps.find((step) => !isFinishedStep(step));

/** The step the run is on (running or waiting), which the API calls the run's phase. */
export const currentPhase = (run: Run): string | null =>
  run.steps.find((step) => step.status === "RUNNING" || step.status === "AWAITING_SELECTION")?.name ?? null;

/**
 * A step about to be executed again keeps nothing of its previous attempt. Its automatic retries
 * start again from 0 unless the policy is still counting (an automatic retry, a takeover).
 */
export function freshStep(step: StepState, attempt: number, automaticRetries = 0): StepState {
  return {
    ...step,
    status: "PENDING",
    attempt,
    automaticRetries,
    progress: null,
    message: null,
    output: null,
    outputTruncated: false,
    alternatives: null,
    selectedIndex: null,
    error: null,
    startedAt: null,
    completedAt: null,
  };
}

function updateStep(run: Run, stepId: string, change: (step: StepState) => StepState): StepState[] {
  return run.steps.map((step) => (step.id === stepId ? change(step) : step));
}

/** A run whose work continues with a worker that has yet to claim it. */
const awaitingWorker = (run: Run, at: string, status: RunStatus = "RUNNING"): Run => ({
  ...run,
  status,
  workerId: null,
  leaseExpiresAt: null,
  error: null,
  completedAt: null,
  updatedAt: at,
});

export function evolve(state: RunState, event: RunEvent): RunState {
  if (event.type === "RunStarted") {
    const { data } = event;
    return {
      exists: true,
      id: data.runId,
      workspaceId: data.workspaceId,
      pipeline: data.pipeline,
      input: data.input,
      idempotencyKey: data.idempotencyKey,
      status: "PENDING",
      steps: data.steps.map((step, index) => freshStep({ ...step, index } as StepState, 1)),
      error: null,
      createdAt: data.at,
      updatedAt: data.at,
      completedAt: null,
      workerId: null,
      leaseExpiresAt: null,
      takeovers: 0,
    };
  }
  if (!state.exists) return state;
  const run: Run = { ...state, updatedAt: event.data.at };
  switch (event.type) {
    case "RunClaimed": {
      const { data } = event;
      // A taken-over run's interrupted step starts over under the new worker.
      const steps = run.steps.map((step) =>
        step.status === "RUNNING" ? freshStep(step, step.attempt, step.automaticRetries) : step,
      );
      return {
        ...run,
        status: "RUNNING",
        steps,
        workerId: data.workerId,
        leaseExpiresAt: data.leaseExpiresAt,
        takeovers: run.takeovers + (data.takeover ? 1 : 0),
      };
    }
    case "RunReleased":
      return {
        ...run,
        workerId: null,
        leaseExpiresAt: null,
        // The interrupted step starts over under whichever worker claims the run next.
        steps: run.steps.map((step) =>
          step.status === "RUNNING" ? freshStep(step, step.attempt, step.automaticRetries) : step,
        ),
      };
    case "StepStarted":
      return {
        ...run,
        steps: updateStep(run, event.data.stepId, (step) => ({
          ...step,
          status: "RUNNING",
          attempt: event.data.attempt,
          startedAt: event.data.at,
          progress: 0,
        })),
      };
    case "StepProgressed":
      return {
        ...run,
        steps: updateStep(run, event.data.stepId, (step) => ({
          ...step,
          progress: event.data.progress ?? step.progress,
          message: event.data.message ?? step.message,
        })),
      };
    case "AlternativesProduced":
      return {
        ...run,
        status: "AWAITING_INPUT",
        workerId: null,
        leaseExpiresAt: null,
        steps: updateStep(run, event.data.stepId, (step) => ({
          ...step,
          status: "AWAITING_SELECTION",
          alternatives: event.data.alternatives,
          progress: 1,
        })),
      };
    case "AlternativeSelected":
      return awaitingWorker(
        {
          ...run,
          steps: updateStep(run, event.data.stepId, (step) => ({
            ...step,
            status: "COMPLETED",
            selectedIndex: event.data.index,
            output: step.alternatives?.[event.data.index] ?? null,
            completedAt: event.data.at,
          })),
        },
        event.data.at,
      );
    case "StepCompleted":
      return {
        ...run,
        steps: updateStep(run, event.data.stepId, (step) => ({
          ...step,
          status: "COMPLETED",
          output: event.data.output,
          outputTruncated: event.data.truncated,
          message: event.data.message ?? step.message,
          progress: 1,
          completedAt: event.data.at,
        })),
      };
    case "StepFailed":
      return {
        ...run,
        steps: updateStep(run, event.data.stepId, (step) =>
          event.data.willRetry
            ? {
                ...freshStep(step, step.attempt + 1, step.automaticRetries + 1),
                message: `attempt ${step.attempt} failed: ${event.data.error}`,
              }
            : { ...step, status: "FAILED", error: event.data.error, completedAt: event.data.at },
        ),
      };
    case "RunCompleted":
      return {
        ...run,
        status: "COMPLETED",
        completedAt: event.data.at,
        workerId: null,
        leaseExpiresAt: null,
      };
    case "RunFailed":
      return {
        ...run,
        status: "FAILED",
        error: event.data.error,
        completedAt: event.data.at,
        workerId: null,
        leaseExpiresAt: null,
        steps: run.steps.map((step) =>
          step.status === "RUNNING"
            ? { ...step, status: "FAILED", error: event.data.error, completedAt: event.data.at }
            : step,
        ),
      };
    case "RunCancelled":
      return {
        ...run,
        status: "CANCELLED",
        error: event.data.reason,
        completedAt: event.data.at,
        workerId: null,
        leaseExpiresAt: null,
        steps: run.steps.map((step) =>
          step.status === "RUNNING" || step.status === "AWAITING_SELECTION"
            ? { ...step, status: "FAILED", error: "cancelled", completedAt: event.data.at }
            : step,
        ),
      };
    case "StepRetried":
    case "RunResumed":
    case "RunRerun": {
      const attempts =
        event.type === "StepRetried"
          ? (event.data.attempts ?? { [event.data.stepId]: event.data.attempt })
          : event.data.attempts;
      const steps = run.steps.map((step) => {
        const attempt = attempts[step.id];
        return attempt === undefined ? step : freshStep(step, attempt);
      });
      const status = event.type === "RunRerun" ? "PENDING" : "RUNNING";
      const takeovers = event.type === "RunRerun" ? 0 : run.takeovers;
      return awaitingWorker({ ...run, steps, takeovers }, event.data.at, status);
    }
    default: {
      // Exhaustive at compile time; a stored event of an unknown type changes nothing.
      const unknown: never = event;
      void unknown;
      return state;
    }
  }
}

/** Folds stored events of a run's stream onto `state`; events of unknown types are skipped. */
export function evolveStored(
  state: RunState,
  events: readonly Pick<StoredEvent, "type" | "data">[],
): RunState {
  let folded = state;
  for (const stored of events) {
    const event = toRunEvent(stored);
    if (event !== null) folded = evolve(folded, event);
  }
  return folded;
}
