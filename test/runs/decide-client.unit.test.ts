import assert from "node:assert/strict";
import { describe, test } from "vitest";
import type { StepState } from "../../src/runs/state.js";
import { InvalidInputError, InvalidStateError, NotFoundError } from "../../src/shared/errors.js";
import { at, command, ev, history, RUN_ID, STEPS } from "./fixtures.js";
import { asRun, given } from "./given-when-then.js";

/** Nothing of an earlier attempt may survive in a step about to run again. */
function assertFresh(step: StepState | undefined, attempt: number): void {
  assert.ok(step);
  assert.deepEqual(
    {
      status: step.status,
      attempt: step.attempt,
      progress: step.progress,
      message: step.message,
      output: step.output,
      outputTruncated: step.outputTruncated,
      alternatives: step.alternatives,
      selectedIndex: step.selectedIndex,
      error: step.error,
      startedAt: step.startedAt,
      completedAt: step.completedAt,
    },
    {
      status: "PENDING",
      attempt,
      progress: null,
      message: null,
      output: null,
      outputTruncated: false,
      alternatives: null,
      selectedIndex: null,
      error: null,
      startedAt: null,
      completedAt: null,
    },
    `step ${step.id} starts attempt ${attempt} from scratch`,
  );
}

const stepOf = (state: ReturnType<typeof given>["state"], id: string) =>
  asRun(state).steps.find((s) => s.id === id);

describe("StartRun", () => {
  const start = (idempotencyKey: string | null = null, steps = STEPS) =>
    command(0, {
      type: "StartRun",
      workspaceId: "ws",
      pipeline: "autofix",
      steps,
      input: { repo: "x" },
      idempotencyKey,
    });

  test("starts a run whose steps all wait for their first attempt", () => {
    const state = given([])
      .when(start())
      .thenDecides([ev.started(0)]);
    const run = asRun(state);
    assert.equal(run.status, "PENDING");
    assert.equal(run.createdAt, at(0));
    assert.deepEqual(
      run.steps.map((step) => [step.id, step.index, step.status, step.attempt]),
      [
        ["a", 0, "PENDING", 1],
        ["b", 1, "PENDING", 1],
        ["c", 2, "PENDING", 1],
      ],
    );
  });

  test("the same idempotency key again decides nothing", () => {
    given([ev.started(0, "key-1")])
      .when(start("key-1"))
      .thenDecides([]);
  });

  test("an existing run with another key, or no key, is an invalid state", () => {
    given([ev.started(0, "key-1")])
      .when(start("key-2"))
      .thenFails(InvalidStateError, /already exists/);
    given([ev.started(0, "key-1")])
      .when(start(null))
      .thenFails(InvalidStateError);
    given([ev.started(0)])
      .when(start(null))
      .thenFails(InvalidStateError);
  });

  test("a pipeline without steps is invalid input", () => {
    given([])
      .when(start(null, []))
      .thenFails(InvalidInputError, /no steps/);
  });
});

describe("commands on a run that does not exist", () => {
  const commands = [
    command(1, { type: "RetryStep", stepId: "a" }),
    command(1, { type: "ResumeFromStep", stepId: "a" }),
    command(1, { type: "SelectAlternative", stepId: "a", index: 0 }),
    command(1, { type: "CancelRun", reason: null }),
    command(1, { type: "RerunRun" }),
    command(1, { type: "FailStaleRun", reason: null, heartbeatExpiresAt: null, staleAfterMs: 1 }),
    command(1, {
      type: "ClaimRun",
      workerId: "w1",
      leaseMs: 1_000,
      currentLeaseExpired: false,
      maxTakeovers: 3,
    }),
    command(1, { type: "StartStep", workerId: "w1", stepId: "a" }),
    command(1, { type: "ReportProgress", workerId: "w1", stepId: "a", progress: 0.5, message: null }),
    command(1, { type: "ProduceAlternatives", workerId: "w1", stepId: "a", alternatives: [1] }),
    command(1, {
      type: "CompleteStep",
      workerId: "w1",
      stepId: "a",
      output: 1,
      truncated: false,
      message: null,
    }),
    command(1, { type: "FailStep", workerId: "w1", stepId: "a", error: "x", willRetry: false }),
    command(1, { type: "CompleteRun", workerId: "w1" }),
  ];
  for (const cmd of commands) {
    test(`${cmd.type} is not found`, () => given([]).when(cmd).thenFails(NotFoundError, new RegExp(RUN_ID)));
  }

  test("a step that does not exist is not found", () => {
    given(history.failedAtC())
      .when(command(11, { type: "RetryStep", stepId: "zz" }))
      .thenFails(NotFoundError, /zz/);
    given(history.failedAtC())
      .when(command(11, { type: "ResumeFromStep", stepId: "zz" }))
      .thenFails(NotFoundError);
    given(history.awaitingSelection())
      .when(command(6, { type: "SelectAlternative", stepId: "zz", index: 0 }))
      .thenFails(NotFoundError);
  });
});

describe("RetryStep", () => {
  test("retrying the failed step starts a fresh attempt of it and reopens the run", () => {
    const state = given(history.failedAtC())
      .when(command(11, { type: "RetryStep", stepId: "c" }))
      .thenDecides([
        { type: "StepRetried", data: { stepId: "c", attempt: 2, attempts: { c: 2 }, at: at(11) } },
      ]);
    const run = asRun(state);
    assertFresh(stepOf(state, "c"), 2);
    assert.equal(run.status, "RUNNING");
    assert.equal(run.error, null);
    assert.equal(run.completedAt, null);
    assert.equal(run.workerId, null, "a worker has to claim it again");
    assert.deepEqual(stepOf(state, "b")?.output, "y", "earlier steps keep their results");
    assert.equal(stepOf(state, "b")?.selectedIndex, 1);
  });

  test("retrying a step re-executes every later step too: their inputs change", () => {
    const state = given(history.failedAtC())
      .when(command(11, { type: "RetryStep", stepId: "b" }))
      .thenDecides([
        { type: "StepRetried", data: { stepId: "b", attempt: 2, attempts: { b: 2, c: 2 }, at: at(11) } },
      ]);
    assertFresh(stepOf(state, "b"), 2);
    assertFresh(stepOf(state, "c"), 2);
    assert.equal(stepOf(state, "a")?.status, "COMPLETED");
    // A step waiting for a selection is retried with the steps after it (never executed: attempt 1).
    const retriedB = given(history.awaitingSelection())
      .when(command(6, { type: "RetryStep", stepId: "b" }))
      .thenDecides([
        { type: "StepRetried", data: { stepId: "b", attempt: 2, attempts: { b: 2, c: 1 }, at: at(6) } },
      ]);
    assertFresh(stepOf(retriedB, "b"), 2);
    assert.equal(asRun(retriedB).status, "RUNNING");
  });

  test("a StepRetried stored before `attempts` existed still resets the retried step alone", () => {
    const state = given([
      ...history.failedAtC(),
      { type: "StepRetried", data: { stepId: "b", attempt: 2, at: at(11) } },
    ]).state;
    assertFresh(stepOf(state, "b"), 2);
    assert.equal(stepOf(state, "c")?.status, "FAILED", "as it was acted upon when it was written");
  });

  test("a COMPLETED or CANCELLED run is not retried: the refusal names resumeFromStep and rerunRun", () => {
    given(history.completed())
      .when(command(11, { type: "RetryStep", stepId: "b" }))
      .thenFails(InvalidStateError, /COMPLETED.*resumeFromStep\(b\).*rerunRun/);
    given([...history.awaitingSelection(), ev.cancelled(6)])
      .when(command(7, { type: "RetryStep", stepId: "a" }))
      .thenFails(InvalidStateError, /CANCELLED.*resumeFromStep\(a\)/);
  });

  test("a step that has not run yet cannot be retried", () => {
    given(history.runningA().slice(0, 2))
      .when(command(5, { type: "RetryStep", stepId: "a" }))
      .thenFails(InvalidStateError, /not been executed/);
  });

  test("no retry while a step is running", () => {
    given(history.runningA())
      .when(command(5, { type: "RetryStep", stepId: "a" }))
      .thenFails(InvalidStateError, /running/);
  });

  test("no retry past an earlier step that is not finished (the worker would stop on it)", () => {
    given(history.awaitingSelection())
      .when(command(6, { type: "RetryStep", stepId: "c" }))
      .thenFails(InvalidStateError, /not been executed/);
    given([
      ...history.failedAtC(),
      { type: "StepRetried", data: { stepId: "b", attempt: 2, at: at(11) } },
      ev.claimed(12),
      ev.stepStarted(13, "b", 2),
      ev.alternatives(14, "b", ["x", "y"], 2),
    ])
      .when(command(15, { type: "RetryStep", stepId: "c" }))
      .thenFails(InvalidStateError, /step b before c is AWAITING_SELECTION; resume from b/);
  });
});

describe("ResumeFromStep", () => {
  test("re-executes the step and every later one, each from scratch", () => {
    const state = given(history.failedAtC())
      .when(command(11, { type: "ResumeFromStep", stepId: "b" }))
      .thenDecides([{ type: "RunResumed", data: { fromStepId: "b", attempts: { b: 2, c: 2 }, at: at(11) } }]);
    const run = asRun(state);
    assertFresh(stepOf(state, "b"), 2);
    assertFresh(stepOf(state, "c"), 2);
    assert.equal(stepOf(state, "a")?.status, "COMPLETED", "earlier steps are kept");
    assert.equal(run.status, "RUNNING");
    assert.equal(run.error, null);
    assert.equal(run.workerId, null);
  });

  test("steps that never ran keep their first attempt", () => {
    const state = given(history.awaitingSelection())
      .when(command(6, { type: "ResumeFromStep", stepId: "a" }))
      .thenDecides([
        { type: "RunResumed", data: { fromStepId: "a", attempts: { a: 2, b: 2, c: 1 }, at: at(6) } },
      ]);
    assertFresh(stepOf(state, "a"), 2);
    assertFresh(stepOf(state, "b"), 2);
    assertFresh(stepOf(state, "c"), 1);
  });

  test("no resume past an earlier step that failed: nothing could be started", () => {
    given(history.failedAtC())
      .when(command(11, { type: "ResumeFromStep", stepId: "c" }))
      .thenDecides([{ type: "RunResumed", data: { fromStepId: "c", attempts: { c: 2 }, at: at(11) } }]);
    given(history.awaitingSelection())
      .when(command(6, { type: "ResumeFromStep", stepId: "c" }))
      .thenFails(InvalidStateError, /before c is AWAITING_SELECTION/);
  });

  test("no resume while a step is running", () => {
    given(history.runningA())
      .when(command(5, { type: "ResumeFromStep", stepId: "a" }))
      .thenFails(InvalidStateError, /running/);
  });
});

describe("SelectAlternative", () => {
  test("completes the waiting step with the chosen alternative and hands the run to a worker", () => {
    const state = given(history.awaitingSelection())
      .when(command(6, { type: "SelectAlternative", stepId: "b", index: 1 }))
      .thenDecides([ev.selected(6, "b", 1)]);
    const step = stepOf(state, "b");
    assert.equal(step?.status, "COMPLETED");
    assert.equal(step?.output, "y");
    assert.equal(step?.selectedIndex, 1);
    assert.equal(asRun(state).status, "RUNNING");
  });

  test("an index out of range is invalid input", () => {
    for (const index of [2, -1, 0.5, Number.NaN]) {
      given(history.awaitingSelection())
        .when(command(6, { type: "SelectAlternative", stepId: "b", index }))
        .thenFails(InvalidInputError, /out of range/);
    }
  });

  test("a step not waiting for a selection is an invalid state", () => {
    given(history.awaitingSelection())
      .when(command(6, { type: "SelectAlternative", stepId: "a", index: 0 }))
      .thenFails(InvalidStateError, /COMPLETED/);
    given([...history.awaitingSelection(), ev.selected(6, "b", 0)])
      .when(command(7, { type: "SelectAlternative", stepId: "b", index: 1 }))
      .thenFails(InvalidStateError, /not AWAITING_SELECTION/);
    given([...history.awaitingSelection(), ev.cancelled(6)])
      .when(command(7, { type: "SelectAlternative", stepId: "b", index: 0 }))
      .thenFails(InvalidStateError);
  });
});

describe("CancelRun", () => {
  test("cancels an active run; its running step fails as cancelled", () => {
    const state = given(history.runningA())
      .when(command(5, { type: "CancelRun", reason: "not needed" }))
      .thenDecides([ev.cancelled(5, "not needed")]);
    const run = asRun(state);
    assert.equal(run.status, "CANCELLED");
    assert.equal(run.error, "not needed");
    assert.equal(run.workerId, null);
    assert.equal(stepOf(state, "a")?.status, "FAILED");
    assert.equal(stepOf(state, "a")?.error, "cancelled");
  });

  test("cancels a pending run and one waiting for a selection", () => {
    given(history.pending())
      .when(command(1, { type: "CancelRun", reason: null }))
      .thenDecides([ev.cancelled(1)]);
    const state = given(history.awaitingSelection())
      .when(command(6, { type: "CancelRun", reason: null }))
      .thenDecides([ev.cancelled(6)]);
    assert.equal(stepOf(state, "b")?.status, "FAILED");
  });

  test("a finished run cannot be cancelled", () => {
    for (const finished of [
      history.completed(),
      history.failedAtC(),
      [...history.pending(), ev.cancelled(1)],
    ]) {
      given(finished)
        .when(command(20, { type: "CancelRun", reason: null }))
        .thenFails(InvalidStateError, /already/);
    }
  });
});

describe("RerunRun", () => {
  test("re-executes a finished run from its first step, nothing kept from before", () => {
    for (const finished of [history.completed(), history.failedAtC()]) {
      const events = given(finished)
        .when(command(20, { type: "RerunRun" }))
        .events();
      assert.deepEqual(events, [{ type: "RunRerun", data: { attempts: { a: 2, b: 2, c: 2 }, at: at(20) } }]);
      const state = given([...finished, ...events]).state;
      const run = asRun(state);
      for (const step of run.steps) assertFresh(step, 2);
      assert.equal(run.status, "PENDING");
      assert.equal(run.error, null);
      assert.equal(run.completedAt, null);
      assert.equal(run.takeovers, 0);
    }
  });

  test("a cancelled run reruns too; steps that never ran keep attempt 1", () => {
    given([...history.runningA(), ev.cancelled(5)])
      .when(command(6, { type: "RerunRun" }))
      .thenDecides([{ type: "RunRerun", data: { attempts: { a: 2, b: 1, c: 1 }, at: at(6) } }]);
  });

  test("an active run cannot be rerun", () => {
    for (const active of [history.pending(), history.runningA(), history.awaitingSelection()]) {
      given(active)
        .when(command(20, { type: "RerunRun" }))
        .thenFails(InvalidStateError, /only finished/);
    }
  });
});

describe("FailStaleRun", () => {
  /** `heartbeatExpiresAt`: the lease as the holder's heartbeats set it; the claim's (at 1) ends at 31. */
  const stale = (seconds: number, heartbeatExpiresAt: string | null, staleAfterMs = 60_000) =>
    command(seconds, { type: "FailStaleRun", reason: null, heartbeatExpiresAt, staleAfterMs });

  test("fails a run whose worker's lease ran out", () => {
    const state = given(history.runningA())
      .when(stale(40, at(35)))
      .thenDecides([ev.runFailed(40, "stale: worker stopped reporting", "stale")]);
    assert.equal(asRun(state).status, "FAILED");
    assert.equal(stepOf(state, "a")?.status, "FAILED");
  });

  test("the claim's lease counts when no heartbeat came, the later of the two when one did", () => {
    given(history.runningA())
      .when(stale(40, null))
      .thenDecides([ev.runFailed(40, "stale: worker stopped reporting", "stale")]);
    given(history.runningA())
      .when(stale(40, at(20)))
      .thenDecides([ev.runFailed(40, "stale: worker stopped reporting", "stale")]);
    given(history.runningA())
      .when(stale(30, at(20)))
      .thenFails(InvalidStateError, /healthy/);
  });

  test("fails a run that made no progress for too long", () => {
    given(history.runningA())
      .when(stale(100, at(120)))
      .thenDecides([ev.runFailed(100, "stale: no progress for 97000 ms", "stale")]);
  });

  test("a healthy run is not stale", () => {
    given(history.runningA())
      .when(stale(10, at(35)))
      .thenFails(InvalidStateError, /healthy/);
  });

  test("a run no worker holds, or a finished one, cannot be stale", () => {
    given(history.pending())
      .when(stale(100, null))
      .thenFails(InvalidStateError, /held by no worker/);
    given(history.awaitingSelection()).when(stale(100, null)).thenFails(InvalidStateError);
    given(history.completed()).when(stale(100, null)).thenFails(InvalidStateError);
  });
});
