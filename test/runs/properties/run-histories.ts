import fc from "fast-check";
import type { RunCommand } from "../../../src/runs/commands.js";
import { decide } from "../../../src/runs/decide.js";
import type { RunEvent } from "../../../src/runs/events.js";
import { evolve, initialState, nextStep, type Run, type RunState } from "../../../src/runs/state.js";
import { DomainError } from "../../../src/shared/errors.js";
import type { Json } from "../../../src/shared/json.js";

/**
 * Random histories of one run: sequences of client and worker commands, decided and folded by the
 * real decider. Moves are abstract ("the holder completes the running step", "worker w2 reports on
 * step 0") and turn into commands against the state they meet, so most of them act on the run, and
 * the rest are what the domain must refuse: duplicates, reports from a worker that lost its lease,
 * commands on finished runs, steps out of order.
 */

export const RUN_ID = "prop-run";
export const STEPS = [
  { id: "analyze", name: "Analyze" },
  { id: "generate", name: "Generate" },
  { id: "apply", name: "Apply" },
];
const WORKERS = ["w1", "w2", "w3"] as const;
const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const LEASE_MS = 30_000;
const START = {
  type: "StartRun",
  runId: RUN_ID,
  workspaceId: "ws-prop",
  pipeline: "autofix",
  steps: STEPS,
  input: { files: 1 },
  idempotencyKey: "prop-key",
} as const;

/** "relevant": the step the move is about in the state it meets (running, next, waiting...). */
type StepPick = "relevant" | 0 | 1 | 2;
/** "holder": the worker holding the run (w1 when none). */
type WorkerPick = "holder" | (typeof WORKERS)[number];

export type Move = { dt: number } & (
  | { kind: "retry" | "resume"; step: StepPick }
  | { kind: "select"; step: StepPick; index: number }
  | { kind: "cancel" | "rerun" }
  | { kind: "failStale"; heartbeatIn: number | null }
  | { kind: "claim"; worker: WorkerPick; leaseExpired: boolean }
  | { kind: "release"; worker: WorkerPick }
  | { kind: "completeRun"; worker: WorkerPick }
  | { kind: "start" | "complete"; worker: WorkerPick; step: StepPick }
  | { kind: "progress"; worker: WorkerPick; step: StepPick; progress: number | null }
  | { kind: "alternatives"; worker: WorkerPick; step: StepPick; count: number }
  | { kind: "fail"; worker: WorkerPick; step: StepPick; willRetry: boolean }
  | { kind: "duplicate" }
  | { kind: "startAgain"; sameRequest: boolean }
);

const stepPick = fc.oneof(
  { weight: 4, arbitrary: fc.constant("relevant" as const) },
  { weight: 1, arbitrary: fc.constantFrom(0 as const, 1 as const, 2 as const) },
);
const workerPick = fc.oneof(
  { weight: 4, arbitrary: fc.constant("holder" as const) },
  { weight: 1, arbitrary: fc.constantFrom(...WORKERS) },
);
/** Seconds between two commands: mostly quick, sometimes past the lease or the stale limit. */
const dt = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 5 }) },
  { weight: 1, arbitrary: fc.integer({ min: 25, max: 120 }) },
);

/** Weighted so that runs mostly move forward (and complete), with disruptions among them. */
const move: fc.Arbitrary<Move> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      dt,
      kind: fc.constantFrom("start", "complete"),
      worker: workerPick,
      step: stepPick,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      dt,
      kind: fc.constant("select"),
      step: stepPick,
      index: fc.integer({ min: -1, max: 3 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ dt, kind: fc.constant("claim"), worker: workerPick, leaseExpired: fc.boolean() }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      dt,
      kind: fc.constant("alternatives"),
      worker: workerPick,
      step: stepPick,
      count: fc.integer({ min: 0, max: 3 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ dt, kind: fc.constant("completeRun"), worker: workerPick }) },
  {
    weight: 3,
    arbitrary: fc.record({
      dt,
      kind: fc.constant("fail"),
      worker: workerPick,
      step: stepPick,
      willRetry: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      dt,
      kind: fc.constant("progress"),
      worker: workerPick,
      step: stepPick,
      progress: fc.option(fc.constantFrom(0, 0.5, 1, 1.5)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ dt, kind: fc.constantFrom("retry", "resume"), step: stepPick }) },
  { weight: 2, arbitrary: fc.record({ dt, kind: fc.constant("duplicate") }) },
  { weight: 1, arbitrary: fc.record({ dt, kind: fc.constant("release"), worker: workerPick }) },
  { weight: 1, arbitrary: fc.record({ dt, kind: fc.constantFrom("cancel", "rerun") }) },
  {
    weight: 1,
    arbitrary: fc.record({
      dt,
      kind: fc.constant("failStale"),
      heartbeatIn: fc.option(fc.integer({ min: -60, max: 60 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ dt, kind: fc.constant("startAgain"), sameRequest: fc.boolean() }) },
);

/** A history: the run is started, then 0 to `maxMoves` moves. */
export const moves = (maxMoves = 100): fc.Arbitrary<Move[]> =>
  fc.array(move, { maxLength: maxMoves, size: "max" });

/** One command of a history: what was asked, in which state, and what came of it. */
export interface Played {
  command: RunCommand;
  before: RunState;
  /** The events decided, or the domain error that refused the command. */
  outcome: { events: RunEvent[] } | { refused: DomainError };
  after: RunState;
}

export interface PlayedHistory {
  played: Played[];
  /** Every event appended, in order, with the index of the command that decided it. */
  events: { event: RunEvent; by: number }[];
  state: RunState;
}

const pickStep = (run: Run | null, pick: StepPick, relevant: (run: Run) => number | undefined): string => {
  const index = pick === "relevant" ? ((run ? relevant(run) : undefined) ?? 0) : pick;
  return STEPS[index]?.id ?? "analyze";
};
const indexOf = (run: Run, status: string): number | undefined => {
  const index = run.steps.findIndex((step) => step.status === status);
  return index < 0 ? undefined : index;
};
const running = (run: Run) => indexOf(run, "RUNNING");
const awaiting = (run: Run) => indexOf(run, "AWAITING_SELECTION");
/** What a person retries or resumes: a failed or waiting step, else one picked from the executed ones. */
const toRedo = (run: Run) =>
  indexOf(run, "FAILED") ?? awaiting(run) ?? run.steps.filter((step) => step.status !== "PENDING").length - 1;

function commandOf(
  move: Move,
  state: RunState,
  now: string,
  previous: RunCommand | null,
  runId: string,
): RunCommand {
  // A duplicate is the previous command again, as a client or worker retrying a call would send it.
  if (move.kind === "duplicate" && previous) return previous;
  const run = state.exists ? state : null;
  const worker = (pick: WorkerPick) => (pick === "holder" ? (run?.workerId ?? "w1") : pick);
  switch (move.kind) {
    case "retry":
      return { type: "RetryStep", runId, now, stepId: pickStep(run, move.step, toRedo) };
    case "resume":
      return { type: "ResumeFromStep", runId, now, stepId: pickStep(run, move.step, toRedo) };
    case "select":
      return {
        type: "SelectAlternative",
        runId,
        now,
        stepId: pickStep(run, move.step, awaiting),
        index: move.index,
      };
    case "cancel":
      return { type: "CancelRun", runId, now, reason: "changed my mind" };
    case "rerun":
      return { type: "RerunRun", runId, now };
    case "failStale": {
      const heartbeatExpiresAt =
        move.heartbeatIn === null ? null : new Date(Date.parse(now) + move.heartbeatIn * 1_000).toISOString();
      return { type: "FailStaleRun", runId, now, reason: null, heartbeatExpiresAt, staleAfterMs: 90_000 };
    }
    case "claim":
      return {
        type: "ClaimRun",
        runId,
        now,
        workerId: worker(move.worker),
        leaseMs: LEASE_MS,
        currentLeaseExpired: move.leaseExpired,
        maxTakeovers: 3,
      };
    case "release":
      return { type: "ReleaseRun", runId, now, workerId: worker(move.worker) };
    case "completeRun":
      return { type: "CompleteRun", runId, now, workerId: worker(move.worker) };
    case "start": {
      const next = (candidate: Run) => nextStep(candidate)?.index;
      return {
        type: "StartStep",
        runId,
        now,
        workerId: worker(move.worker),
        stepId: pickStep(run, move.step, next),
      };
    }
    case "progress":
      return {
        type: "ReportProgress",
        runId,
        now,
        workerId: worker(move.worker),
        stepId: pickStep(run, move.step, running),
        progress: move.progress,
        message: "working",
      };
    case "alternatives": {
      const stepId = pickStep(run, move.step, running);
      const attempt = run?.steps.find((step) => step.id === stepId)?.attempt ?? 0;
      const alternatives: Json[] = Array.from({ length: move.count }, (_, i) => ({ alt: i, of: attempt }));
      return { type: "ProduceAlternatives", runId, now, workerId: worker(move.worker), stepId, alternatives };
    }
    case "complete": {
      const stepId = pickStep(run, move.step, running);
      const attempt = run?.steps.find((step) => step.id === stepId)?.attempt ?? 0;
      return {
        type: "CompleteStep",
        runId,
        now,
        workerId: worker(move.worker),
        stepId,
        output: { by: stepId, attempt },
        truncated: false,
        message: null,
      };
    }
    case "fail":
      return {
        type: "FailStep",
        runId,
        now,
        workerId: worker(move.worker),
        stepId: pickStep(run, move.step, running),
        error: "flaky",
        willRetry: move.willRetry,
      };
    case "duplicate":
      return { ...START, runId, now };
    case "startAgain":
      return { ...START, runId, now, input: move.sameRequest ? START.input : { files: 2 } };
  }
}

/**
 * Plays the moves through decide and evolve, as the command handler does (fold, decide, append).
 * Anything decide throws that is not a DomainError is a bug and propagates.
 */
export function play(history: Move[], runId: string = RUN_ID): PlayedHistory {
  const played: Played[] = [];
  const events: PlayedHistory["events"] = [];
  let state = initialState();
  const execute = (command: RunCommand): void => {
    const before = state;
    let outcome: Played["outcome"];
    try {
      const decided = decide(command, state);
      for (const event of decided) {
        state = evolve(state, event);
        events.push({ event, by: played.length });
      }
      outcome = { events: decided };
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      outcome = { refused: error };
    }
    played.push({ command, before, outcome, after: state });
  };
  let clock = T0;
  execute({ ...START, runId, now: new Date(clock).toISOString() });
  for (const next of history) {
    clock += next.dt * 1_000;
    execute(commandOf(next, state, new Date(clock).toISOString(), played.at(-1)?.command ?? null, runId));
  }
  return { played, events, state };
}

/** Settings of the property suites: a fixed seed unless told otherwise, and how many histories. */
export function propertySettings(
  defaultRuns: number,
  runsVariable = "PROPERTY_RUNS",
): { seed: number; numRuns: number } {
  const seed = Number(process.env.PROPERTY_SEED ?? 20_261_125);
  const numRuns = Number(process.env[runsVariable] ?? defaultRuns);
  return { seed, numRuns };
}
