import { describe, expect, it } from "vitest";
import { allowedCommands } from "../../src/runs/allowed-commands.js";
import type { RunEvent } from "../../src/runs/events.js";
import { evolve, initialState, type Run } from "../../src/runs/state.js";

const T0 = Date.UTC(2026, 0, 1);
const at = (seconds: number) => new Date(T0 + seconds * 1_000).toISOString();
const STEPS = [
  { id: "a", name: "A" },
  { id: "b", name: "B" },
];

function fold(events: RunEvent[]): Run {
  const state = events.reduce(evolve, initialState());
  if (!state.exists) throw new Error("no run");
  return state;
}

const started: RunEvent = {
  type: "RunStarted",
  data: {
    runId: "r",
    workspaceId: "w",
    pipeline: "p",
    steps: STEPS,
    input: null,
    idempotencyKey: null,
    at: at(0),
  },
};
const claimed: RunEvent = {
  type: "RunClaimed",
  data: { workerId: "w1", leaseExpiresAt: at(31), takeover: false, at: at(1) },
};
const stepStarted = (stepId: string, seconds: number): RunEvent => ({
  type: "StepStarted",
  data: { stepId, attempt: 1, workerId: "w1", at: at(seconds) },
});

const offered = (run: Run, seconds: number, heartbeatExpiresAt: string | null = null) =>
  allowedCommands(run, { now: at(seconds), heartbeatExpiresAt, staleAfterMs: 600_000 }).map(
    ({ command, stepId }) => `${command}${stepId ? `:${stepId}` : ""}`,
  );

describe("allowedCommands: what the decider accepts, found by asking it", () => {
  it("offers no retry or resume while a step runs, and a cancel but no rerun", () => {
    const run = fold([started, claimed, stepStarted("a", 2)]);
    expect(offered(run, 3)).toEqual(["CANCEL_RUN"]);
  });

  it("offers failStaleRun once the worker's lease has run out, not before", () => {
    const run = fold([started, claimed, stepStarted("a", 2)]);
    expect(offered(run, 10)).not.toContain("FAIL_STALE_RUN");
    expect(offered(run, 40)).toContain("FAIL_STALE_RUN");
    // A heartbeat that moved the lease on keeps the run healthy.
    expect(offered(run, 40, at(60))).not.toContain("FAIL_STALE_RUN");
  });

  it("offers the selection on the step awaiting one, only there", () => {
    const run = fold([
      started,
      claimed,
      stepStarted("a", 2),
      { type: "AlternativesProduced", data: { stepId: "a", attempt: 1, alternatives: [1, 2], at: at(3) } },
    ]);
    const commands = offered(run, 4);
    expect(commands).toContain("SELECT_ALTERNATIVE:a");
    expect(commands).not.toContain("SELECT_ALTERNATIVE:b");
    expect(commands).toContain("CANCEL_RUN");
  });

  it("offers a rerun of a finished run and no cancel", () => {
    const run = fold([
      started,
      claimed,
      stepStarted("a", 2),
      {
        type: "StepCompleted",
        data: { stepId: "a", attempt: 1, output: 1, truncated: false, message: null, at: at(3) },
      },
      stepStarted("b", 4),
      {
        type: "StepCompleted",
        data: { stepId: "b", attempt: 1, output: 2, truncated: false, message: null, at: at(5) },
      },
      { type: "RunCompleted", data: { stepCount: 2, at: at(6) } },
    ]);
    const commands = offered(run, 7);
    expect(commands).toContain("RERUN_RUN");
    expect(commands).not.toContain("CANCEL_RUN");
    expect(commands).not.toContain("FAIL_STALE_RUN");
  });
});
