import { describe, expect, it } from "vitest";
import { evolveStored, initialState } from "../../src/runs/state.js";
import { type Move, play } from "./properties/run-histories.js";
import { firstViolation } from "./properties/run-invariants.js";

/**
 * Shrunk counterexamples of the property suite, kept as named histories so that the bug each one
 * found stays fixed whatever the generator does later. Each replays through decide and evolve and
 * must keep every invariant of run-invariants.ts.
 */
const REGRESSIONS: Record<string, Move[]> = {
  // Found with seed 20261125 while StepRetried reset only the retried step: `generate` kept the output
  // it had made from the first attempt of `analyze`.
  "retrying a step resets the completed steps after it": [
    { dt: 0, kind: "claim", worker: "holder", leaseExpired: false },
    { dt: 0, kind: "start", worker: "holder", step: "relevant" },
    { dt: 0, kind: "complete", worker: "w1", step: "relevant" },
    { dt: 0, kind: "start", worker: "holder", step: "relevant" },
    { dt: 0, kind: "complete", worker: "holder", step: "relevant" },
    { dt: 0, kind: "retry", step: 0 },
  ],
  // Issue #15: select alternative 0, the run completes, then retryStep(generate) was accepted and
  // `apply` kept the patch made from alternative 0 after alternative 1 was selected.
  "retrying the selecting step of a COMPLETED run is refused; resuming re-executes what follows": [
    { dt: 0, kind: "claim", worker: "holder", leaseExpired: false },
    { dt: 0, kind: "start", worker: "holder", step: "relevant" },
    { dt: 0, kind: "complete", worker: "holder", step: "relevant" },
    { dt: 0, kind: "start", worker: "holder", step: "relevant" },
    { dt: 0, kind: "alternatives", worker: "holder", step: "relevant", count: 2 },
    { dt: 1, kind: "select", step: "relevant", index: 0 },
    { dt: 0, kind: "claim", worker: "w2", leaseExpired: false },
    { dt: 0, kind: "start", worker: "holder", step: "relevant" },
    { dt: 0, kind: "complete", worker: "holder", step: "relevant" },
    { dt: 0, kind: "completeRun", worker: "holder" },
    { dt: 5, kind: "retry", step: 1 },
    { dt: 1, kind: "resume", step: 1 },
    { dt: 0, kind: "claim", worker: "w1", leaseExpired: false },
    { dt: 0, kind: "start", worker: "holder", step: "relevant" },
    { dt: 0, kind: "alternatives", worker: "holder", step: "relevant", count: 2 },
    { dt: 1, kind: "select", step: "relevant", index: 1 },
    { dt: 0, kind: "claim", worker: "w1", leaseExpired: false },
    { dt: 0, kind: "start", worker: "holder", step: "relevant" },
    { dt: 0, kind: "complete", worker: "holder", step: "relevant" },
    { dt: 0, kind: "completeRun", worker: "holder" },
  ],
};

describe("run decider regressions (shrunk counterexamples)", () => {
  for (const [name, moves] of Object.entries(REGRESSIONS)) {
    it(name, () => {
      expect(firstViolation(play(moves))).toBeNull();
    });
  }

  it("the issue's scenario ends with apply re-executed from the new selection", () => {
    const history = play(
      REGRESSIONS[
        "retrying the selecting step of a COMPLETED run is refused; resuming re-executes what follows"
      ] ?? [],
    );
    const retry = history.played.find((entry) => entry.command.type === "RetryStep");
    expect(retry && "refused" in retry.outcome ? retry.outcome.refused.message : null).toMatch(
      /COMPLETED.*resumeFromStep\(generate\)/,
    );
    const run = history.state;
    if (!run.exists) throw new Error("the run exists");
    expect(run.status).toBe("COMPLETED");
    const [, generate, apply] = run.steps;
    expect(generate).toMatchObject({ attempt: 2, selectedIndex: 1, output: { alt: 1, of: 2 } });
    expect(apply).toMatchObject({ status: "COMPLETED", attempt: 2, output: { by: "apply", attempt: 2 } });
  });

  it("a stored event of a type this version does not know leaves the run as it was", () => {
    const started = {
      type: "RunStarted",
      data: {
        runId: "r",
        workspaceId: "ws",
        pipeline: "p",
        steps: [{ id: "a", name: "A" }],
        input: null,
        idempotencyKey: null,
        at: "2026-01-01T00:00:00.000Z",
      },
    };
    const run = evolveStored(initialState(), [started]);
    expect(evolveStored(run, [{ type: "ExecutorDied", data: { at: "2026-01-01T00:00:01.000Z" } }])).toBe(run);
  });
});
