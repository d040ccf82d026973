import type { RunEvent } from "../../../src/runs/events.js";
import { isFinishedStep, isTerminal, type Run, type RunState } from "../../../src/runs/state.js";
import type { PlayedHistory } from "./run-histories.js";

/**
 * What must hold of every run, whatever happened to it: written once, in the domain's words, and
 * checked after every command of every generated history. Each check returns what is wrong, or null.
 * The event log (what was appended up to the command) is the evidence a state is checked against.
 */

interface Moment {
  history: PlayedHistory;
  /** Index of the command just played. */
  at: number;
}

export interface Invariant {
  name: string;
  check(moment: Moment): string | null;
}

const logUpTo = ({ history, at }: Moment): RunEvent[] =>
  history.events.filter((entry) => entry.by <= at).map((entry) => entry.event);

const stepIdOf = (event: RunEvent): string | null =>
  "stepId" in event.data && typeof event.data.stepId === "string" ? event.data.stepId : null;

/** The events after which a step starts a new execution from scratch, with nothing of the last one. */
function resets(event: RunEvent, stepId: string): boolean {
  switch (event.type) {
    case "StepRetried":
      return event.data.attempts ? event.data.attempts[stepId] !== undefined : event.data.stepId === stepId;
    case "RunResumed":
    case "RunRerun":
      return event.data.attempts[stepId] !== undefined;
    case "StepFailed":
      return event.data.stepId === stepId && event.data.willRetry;
    default:
      return false;
  }
}

const lastIndex = (log: RunEvent[], matches: (event: RunEvent) => boolean): number =>
  log.findLastIndex(matches);

/** An event that gives a step a result: its output, its alternatives, or the selection among them. */
const givesResult = (event: RunEvent, stepId: string): boolean =>
  (event.type === "StepCompleted" ||
    event.type === "AlternativesProduced" ||
    event.type === "AlternativeSelected") &&
  event.data.stepId === stepId;

/** An event that completes a step's attempt. */
const completes = (event: RunEvent, stepId: string): boolean =>
  (event.type === "StepCompleted" || event.type === "AlternativeSelected") && event.data.stepId === stepId;

const runOf = (state: RunState): Run | null => (state.exists ? state : null);
const after = ({ history, at }: Moment): Run | null => runOf(history.played[at]?.after ?? { exists: false });

export const INVARIANTS: Invariant[] = [
  {
    name: "a step's output, alternatives and selection belong to its latest attempt",
    check(moment) {
      const run = after(moment);
      if (!run) return null;
      const log = logUpTo(moment);
      for (const step of run.steps) {
        if (step.output === null && step.alternatives === null && step.selectedIndex === null) continue;
        const result = lastIndex(log, (event) => givesResult(event, step.id));
        const reset = lastIndex(log, (event) => resets(event, step.id));
        const source = log[result];
        if (!source || result < reset) return `step ${step.id} holds a result from before its last reset`;
        if ("attempt" in source.data && source.data.attempt !== step.attempt) {
          return `step ${step.id} is at attempt ${step.attempt} but holds the result of attempt ${source.data.attempt}`;
        }
      }
      return null;
    },
  },
  {
    name: "every step after a step that is not finished holds no result and waits to be executed",
    check(moment) {
      const run = after(moment);
      if (!run) return null;
      const firstUnfinished = run.steps.findIndex((step) => !isFinishedStep(step));
      if (firstUnfinished < 0) return null;
      for (const step of run.steps.slice(firstUnfinished + 1)) {
        const leftover =
          step.status !== "PENDING" ||
          step.output !== null ||
          step.alternatives !== null ||
          step.selectedIndex !== null ||
          step.error !== null ||
          step.startedAt !== null ||
          step.completedAt !== null;
        if (leftover)
          return `step ${step.id} is ${step.status} with leftovers after unfinished ${run.steps[firstUnfinished]?.id}`;
      }
      return null;
    },
  },
  {
    name: "a step runs on the latest results: it started after every step before it completed its latest attempt",
    check(moment) {
      const run = after(moment);
      if (!run) return null;
      const log = logUpTo(moment);
      for (const step of run.steps) {
        if (step.startedAt === null) continue;
        const started = lastIndex(
          log,
          (event) => event.type === "StepStarted" && event.data.stepId === step.id,
        );
        for (const earlier of run.steps.slice(0, step.index)) {
          if (!isFinishedStep(earlier))
            return `step ${step.id} started while ${earlier.id} is ${earlier.status}`;
          const completed = lastIndex(log, (event) => completes(event, earlier.id));
          if (completed > started) return `step ${step.id} started before ${earlier.id}'s latest result`;
        }
      }
      return null;
    },
  },
  {
    name: "a COMPLETED run has every step COMPLETED",
    check(moment) {
      const run = after(moment);
      if (run?.status !== "COMPLETED") return null;
      const unfinished = run.steps.find((step) => step.status !== "COMPLETED");
      return unfinished ? `run is COMPLETED but step ${unfinished.id} is ${unfinished.status}` : null;
    },
  },
  {
    name: "a run leaves a finished state only through rerunRun, resumeFromStep, or retryStep of a FAILED run",
    check({ history, at }) {
      const played = history.played[at];
      const before = runOf(played?.before ?? { exists: false });
      const now = runOf(played?.after ?? { exists: false });
      if (!played || !before || !now || !isTerminal(before) || now.status === before.status) return null;
      const type = played.command.type;
      const allowed =
        type === "RerunRun" ||
        type === "ResumeFromStep" ||
        (type === "RetryStep" && before.status === "FAILED");
      return allowed ? null : `${type} took the run from ${before.status} to ${now.status}`;
    },
  },
  {
    name: "at most one step is in progress, and the run's status and holder agree with it",
    check(moment) {
      const run = after(moment);
      if (!run) return null;
      const inProgress = run.steps.filter(
        (step) => step.status === "RUNNING" || step.status === "AWAITING_SELECTION",
      );
      if (inProgress.length > 1)
        return `steps ${inProgress.map((step) => step.id).join(", ")} are all in progress`;
      const [current] = inProgress;
      if ((run.status === "AWAITING_INPUT") !== (current?.status === "AWAITING_SELECTION")) {
        return `run is ${run.status} while step ${current?.id ?? "none"} is ${current?.status ?? "-"}`;
      }
      if (current?.status === "RUNNING" && (run.status !== "RUNNING" || run.workerId === null)) {
        return `step ${current.id} is RUNNING in a ${run.status} run held by ${run.workerId ?? "nobody"}`;
      }
      if (isTerminal(run) && (run.workerId !== null || current))
        return `finished run still held or in progress`;
      return null;
    },
  },
  {
    name: "attempts never go down",
    check({ history, at }) {
      const played = history.played[at];
      const before = runOf(played?.before ?? { exists: false });
      const now = runOf(played?.after ?? { exists: false });
      if (!played || !before || !now || played.command.type === "StartRun") return null;
      const lower = now.steps.find((step, index) => step.attempt < (before.steps[index]?.attempt ?? 0));
      return lower ? `step ${lower.id} went back to attempt ${lower.attempt}` : null;
    },
  },
  {
    name: "every event decided names a step of the run in that step's current attempt",
    check({ history, at }) {
      const played = history.played[at];
      if (!played || !("events" in played.outcome)) return null;
      // Checked against the state the command met (a second event of one command, RunFailed, names no step).
      const state = runOf(played.before);
      for (const entry of history.events.filter((candidate) => candidate.by === at)) {
        const { event } = entry;
        const stepId = stepIdOf(event);
        if (state && stepId !== null) {
          const step = state.steps.find((candidate) => candidate.id === stepId);
          if (!step) return `${event.type} names step ${stepId}, which the run does not have`;
          const attempt = "attempt" in event.data ? event.data.attempt : step.attempt;
          const expected = event.type === "StepRetried" ? step.attempt + 1 : step.attempt;
          if (attempt !== expected)
            return `${event.type} of ${stepId} names attempt ${attempt}, not ${expected}`;
        }
        if ("attempts" in event.data && state) {
          const ghost = Object.keys(event.data.attempts ?? {}).find(
            (id) => !state?.steps.some((step) => step.id === id),
          );
          if (ghost) return `${event.type} names step ${ghost}, which the run does not have`;
        }
      }
      return runOf(played.after) ? null : "the run does not exist after a decided event";
    },
  },
  {
    name: "automatic retries count the failures with a retry since the step was last re-executed by a person",
    check(moment) {
      const run = after(moment);
      if (!run) return null;
      const log = logUpTo(moment);
      for (const step of run.steps) {
        const since = lastIndex(log, (event) => event.type !== "StepFailed" && resets(event, step.id));
        const count = log
          .slice(since + 1)
          .filter(
            (event) => event.type === "StepFailed" && event.data.stepId === step.id && event.data.willRetry,
          ).length;
        if (count !== step.automaticRetries)
          return `step ${step.id} counts ${step.automaticRetries} automatic retries, the log ${count}`;
      }
      return null;
    },
  },
  {
    name: "a repeated start with the same idempotency key and request decides nothing; another request under it is a CONFLICT",
    check({ history, at }) {
      const played = history.played[at];
      if (played?.command.type !== "StartRun" || !played.before.exists) return null;
      const sameRequest = JSON.stringify(played.command.input) === JSON.stringify(played.before.input);
      if (sameRequest)
        return "events" in played.outcome && played.outcome.events.length === 0
          ? null
          : "a repeated start was not a no-op";
      return "refused" in played.outcome && played.outcome.refused.code === "CONFLICT"
        ? null
        : "a reused key with another input was not a CONFLICT";
    },
  },
];

/** The first invariant broken by the history, with the command that broke it, or null. */
export function firstViolation(history: PlayedHistory): string | null {
  for (let at = 0; at < history.played.length; at++) {
    for (const invariant of INVARIANTS) {
      const problem = invariant.check({ history, at });
      if (problem)
        return `after command ${at} (${history.played[at]?.command.type}): ${invariant.name}: ${problem}`;
    }
  }
  return null;
}
