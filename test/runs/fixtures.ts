import type { RunCommand } from "../../src/runs/commands.js";
import type { RunEvent } from "../../src/runs/events.js";
import type { Json } from "../../src/shared/json.js";

/** Run "r1" of a three-step pipeline, worker "w1", times counted in seconds from T0. */
export const RUN_ID = "r1";
export const WORKER = "w1";
export const STEPS = [
  { id: "a", name: "Analyse" },
  { id: "b", name: "Choose" },
  { id: "c", name: "Apply" },
];

export const at = (seconds: number): string => new Date(Date.UTC(2026, 0, 1) + seconds * 1_000).toISOString();

type Distribute<T> = T extends unknown ? Omit<T, "runId" | "now"> : never;

/** A command at `seconds`, with the run id filled in. */
export const command = (seconds: number, fields: Distribute<RunCommand>): RunCommand =>
  ({ runId: RUN_ID, now: at(seconds), ...fields }) as RunCommand;

export const ev = {
  started: (seconds = 0, idempotencyKey: string | null = null): RunEvent => ({
    type: "RunStarted",
    data: {
      runId: RUN_ID,
      workspaceId: "ws",
      pipeline: "autofix",
      steps: STEPS,
      input: { repo: "x" },
      idempotencyKey,
      at: at(seconds),
    },
  }),
  claimed: (seconds: number, workerId = WORKER, takeover = false, leaseSeconds = 30): RunEvent => ({
    type: "RunClaimed",
    data: { workerId, leaseExpiresAt: at(seconds + leaseSeconds), takeover, at: at(seconds) },
  }),
  stepStarted: (seconds: number, stepId: string, attempt = 1, workerId = WORKER): RunEvent => ({
    type: "StepStarted",
    data: { stepId, attempt, workerId, at: at(seconds) },
  }),
  progressed: (
    seconds: number,
    stepId: string,
    progress: number | null,
    message: string | null,
    attempt = 1,
  ): RunEvent => ({
    type: "StepProgressed",
    data: { stepId, attempt, progress, message, at: at(seconds) },
  }),
  completed: (seconds: number, stepId: string, output: Json = { ok: stepId }, attempt = 1): RunEvent => ({
    type: "StepCompleted",
    data: { stepId, attempt, output, truncated: false, message: "done", at: at(seconds) },
  }),
  alternatives: (
    seconds: number,
    stepId: string,
    alternatives: Json[] = ["x", "y"],
    attempt = 1,
  ): RunEvent => ({
    type: "AlternativesProduced",
    data: { stepId, attempt, alternatives, at: at(seconds) },
  }),
  selected: (seconds: number, stepId: string, index: number, attempt = 1): RunEvent => ({
    type: "AlternativeSelected",
    data: { stepId, attempt, index, at: at(seconds) },
  }),
  stepFailed: (
    seconds: number,
    stepId: string,
    error: string,
    willRetry: boolean,
    attempt = 1,
  ): RunEvent => ({
    type: "StepFailed",
    data: { stepId, attempt, error, willRetry, at: at(seconds) },
  }),
  runFailed: (seconds: number, error: string, reason: "step-failed" | "stale" = "step-failed"): RunEvent => ({
    type: "RunFailed",
    data: { error, reason, at: at(seconds) },
  }),
  runCompleted: (seconds: number): RunEvent => ({
    type: "RunCompleted",
    data: { stepCount: 3, at: at(seconds) },
  }),
  cancelled: (seconds: number, reason: string | null = null): RunEvent => ({
    type: "RunCancelled",
    data: { reason, at: at(seconds) },
  }),
};

/** Histories the tests start from. */
export const history = {
  pending: (): RunEvent[] => [ev.started()],
  claimed: (): RunEvent[] => [ev.started(), ev.claimed(1)],
  runningA: (): RunEvent[] => [
    ...history.claimed(),
    ev.stepStarted(2, "a"),
    ev.progressed(3, "a", 0.5, "half"),
  ],
  /** a completed, b produced alternatives: the run waits for a selection. */
  awaitingSelection: (): RunEvent[] => [
    ...history.claimed(),
    ev.stepStarted(2, "a"),
    ev.completed(3, "a"),
    ev.stepStarted(4, "b"),
    ev.alternatives(5, "b"),
  ],
  /** a completed, b's alternative 1 selected, c failed for good: the run FAILED. */
  failedAtC: (): RunEvent[] => [
    ...history.awaitingSelection(),
    ev.selected(6, "b", 1),
    ev.claimed(7),
    ev.stepStarted(8, "c"),
    ev.progressed(9, "c", 0.3, "applying"),
    ev.stepFailed(10, "c", "boom", false),
    ev.runFailed(10, "step c failed: boom"),
  ],
  completed: (): RunEvent[] => [
    ...history.awaitingSelection(),
    ev.selected(6, "b", 0),
    ev.claimed(7),
    ev.stepStarted(8, "c"),
    ev.completed(9, "c"),
    ev.runCompleted(10),
  ],
};
