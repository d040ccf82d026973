import type { EventStore } from "../../src/event-store/event-store.js";
import type { RunCommand } from "../../src/runs/commands.js";
import { decide } from "../../src/runs/decide.js";
import { type RunEvent, runStreamName } from "../../src/runs/events.js";
import { evolve, initialState } from "../../src/runs/state.js";
import { newId } from "../../src/shared/ids.js";

const WORKER = "bench-worker";

/**
 * A FAILED run (its last step failed for good) whose every step may be retried once, the last step
 * first: retrying a step re-executes the steps after it, so a step retried before a later one would
 * leave that one unexecuted. Its history is decided by the real decider.
 */
export function finishedRunHistory(
  runId: string,
  steps: { id: string; name: string }[],
  progress: number,
  workspaceId: string,
): RunEvent[] {
  let clock = Date.now() - 60_000;
  const now = () => new Date(clock++).toISOString();
  const commands: RunCommand[] = [
    {
      type: "StartRun",
      runId,
      now: now(),
      workspaceId,
      pipeline: "autofix",
      steps,
      input: { repo: `acme/${runId}` },
      idempotencyKey: null,
    },
    {
      type: "ClaimRun",
      runId,
      now: now(),
      workerId: WORKER,
      leaseMs: 60_000,
      currentLeaseExpired: false,
      maxTakeovers: 3,
    },
  ];
  for (const step of steps) {
    commands.push({ type: "StartStep", runId, now: now(), workerId: WORKER, stepId: step.id });
    for (let i = 1; i <= progress; i++) {
      const message = `${step.id}: ${i} of ${progress} files`;
      commands.push({
        type: "ReportProgress",
        runId,
        now: now(),
        workerId: WORKER,
        stepId: step.id,
        progress: i / progress,
        message,
      });
    }
    const output = { files: 12, patch: "x".repeat(400) };
    if (step === steps.at(-1)) {
      commands.push({
        type: "FailStep",
        runId,
        now: now(),
        workerId: WORKER,
        stepId: step.id,
        error: "bench",
        willRetry: false,
      });
      continue;
    }
    commands.push({
      type: "CompleteStep",
      runId,
      now: now(),
      workerId: WORKER,
      stepId: step.id,
      output,
      truncated: false,
      message: null,
    });
  }
  let state = initialState();
  const events: RunEvent[] = [];
  for (const command of commands) {
    for (const event of decide(command, state)) {
      state = evolve(state, event);
      events.push(event);
    }
  }
  return events;
}

/** Appends a finished run's history as one new stream; returns the global position of its last event. */
export async function appendFinishedRun(
  store: EventStore,
  runId: string,
  steps: { id: string; name: string }[],
  progress: number,
): Promise<string> {
  const events = finishedRunHistory(runId, steps, progress, "default");
  const result = await store.appendToStream(
    runStreamName(runId),
    events.map((event) => ({
      id: newId(),
      type: event.type,
      data: event.data as never,
      occurredAt: new Date(),
    })),
    { expectedRevision: "no_stream" },
  );
  return result.position;
}
