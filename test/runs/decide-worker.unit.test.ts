import assert from "node:assert/strict";
import { describe, test } from "vitest";
import type { RunCommand } from "../../src/runs/commands.js";
import { InvalidInputError, InvalidStateError } from "../../src/shared/errors.js";
import { at, command, ev, history, WORKER } from "./fixtures.js";
import { asRun, given } from "./given-when-then.js";

const stepOf = (state: ReturnType<typeof given>["state"], id: string) =>
  asRun(state).steps.find((s) => s.id === id);

const claim = (
  seconds: number,
  workerId = WORKER,
  currentLeaseExpired = false,
  maxTakeovers = 2,
): RunCommand =>
  command(seconds, { type: "ClaimRun", workerId, leaseMs: 30_000, currentLeaseExpired, maxTakeovers });

describe("ClaimRun", () => {
  test("a worker claims a pending run with a lease", () => {
    const state = given(history.pending())
      .when(claim(1))
      .thenDecides([ev.claimed(1)]);
    const run = asRun(state);
    assert.equal(run.status, "RUNNING");
    assert.equal(run.workerId, WORKER);
    assert.equal(run.leaseExpiresAt, at(31));
  });

  test("claiming again by the holder decides nothing", () => {
    given(history.claimed()).when(claim(2)).thenDecides([]);
  });

  test("another worker takes over only once the lease ran out, and the interrupted step starts over", () => {
    given(history.runningA())
      .when(claim(10, "w2", false))
      .thenFails(InvalidStateError, /lease is live/);
    const state = given(history.runningA())
      .when(claim(40, "w2", true))
      .thenDecides([ev.claimed(40, "w2", true)]);
    const run = asRun(state);
    assert.equal(run.workerId, "w2");
    assert.equal(run.takeovers, 1);
    const step = stepOf(state, "a");
    assert.equal(step?.status, "PENDING");
    assert.equal(step?.attempt, 1);
    assert.equal(step?.progress, null);
    assert.equal(step?.startedAt, null);
  });

  test("no takeover beyond the limit", () => {
    const twice = [...history.runningA(), ev.claimed(40, "w2", true), ev.claimed(80, "w3", true)];
    given(twice)
      .when(claim(120, "w4", true, 2))
      .thenFails(InvalidStateError, /limit of 2 takeovers/);
  });

  test("a run waiting for a selection or finished cannot be claimed", () => {
    given(history.awaitingSelection())
      .when(claim(6))
      .thenFails(InvalidStateError, /AWAITING_INPUT/);
    given(history.completed())
      .when(claim(20))
      .thenFails(InvalidStateError, /COMPLETED/);
    given(history.failedAtC()).when(claim(20)).thenFails(InvalidStateError);
  });
});

describe("StartStep", () => {
  const start = (seconds: number, stepId: string, workerId = WORKER) =>
    command(seconds, { type: "StartStep", workerId, stepId });

  test("the holder starts the next step", () => {
    const state = given(history.claimed())
      .when(start(2, "a"))
      .thenDecides([ev.stepStarted(2, "a")]);
    assert.equal(stepOf(state, "a")?.status, "RUNNING");
    assert.equal(stepOf(state, "a")?.startedAt, at(2));
  });

  test("a retried step starts with its new attempt number", () => {
    const retried = [
      ...history.failedAtC(),
      { type: "StepRetried", data: { stepId: "c", attempt: 2, at: at(11) } } as const,
    ];
    given([...retried, ev.claimed(12)])
      .when(start(13, "c"))
      .thenDecides([ev.stepStarted(13, "c", 2)]);
  });

  test("only the next pending step, only by the holder", () => {
    given(history.claimed())
      .when(start(2, "b"))
      .thenFails(InvalidStateError, /not the next step/);
    given(history.runningA())
      .when(start(4, "a"))
      .thenFails(InvalidStateError, /RUNNING/);
    given(history.claimed())
      .when(start(2, "a", "w2"))
      .thenFails(InvalidStateError, /does not hold/);
    given(history.pending())
      .when(start(2, "a"))
      .thenFails(InvalidStateError, /held by nobody/);
  });
});

describe("ReportProgress", () => {
  const report = (progress: number | null, message: string | null, stepId = "a", workerId = WORKER) =>
    command(4, { type: "ReportProgress", workerId, stepId, progress, message });

  test("records progress and message of the running step", () => {
    const state = given(history.runningA())
      .when(report(0.75, "most"))
      .thenDecides([ev.progressed(4, "a", 0.75, "most")]);
    assert.equal(stepOf(state, "a")?.progress, 0.75);
    assert.equal(stepOf(state, "a")?.message, "most");
    const messageOnly = given(history.runningA())
      .when(report(null, "still"))
      .thenDecides([ev.progressed(4, "a", null, "still")]);
    assert.equal(stepOf(messageOnly, "a")?.progress, 0.5, "a null progress keeps the last one");
  });

  test("progress outside 0..1 is invalid input", () => {
    for (const progress of [-0.1, 1.5, Number.NaN]) {
      given(history.runningA())
        .when(report(progress, null))
        .thenFails(InvalidInputError, /between 0 and 1/);
    }
  });

  test("only for the running step, by the holder", () => {
    given(history.runningA())
      .when(report(0.5, null, "b"))
      .thenFails(InvalidStateError, /not RUNNING/);
    given(history.runningA())
      .when(report(0.5, null, "a", "w2"))
      .thenFails(InvalidStateError, /does not hold/);
  });
});

describe("ProduceAlternatives", () => {
  const produce = (alternatives: unknown[], workerId = WORKER, stepId = "b") =>
    command(5, { type: "ProduceAlternatives", workerId, stepId, alternatives: alternatives as never });
  const runningB = () => [
    ...history.claimed(),
    ev.stepStarted(2, "a"),
    ev.completed(3, "a"),
    ev.stepStarted(4, "b"),
  ];

  test("the run waits for a person and the worker lets go", () => {
    const state = given(runningB())
      .when(produce(["x", "y"]))
      .thenDecides([ev.alternatives(5, "b")]);
    const run = asRun(state);
    assert.equal(run.status, "AWAITING_INPUT");
    assert.equal(run.workerId, null);
    assert.equal(stepOf(state, "b")?.status, "AWAITING_SELECTION");
    assert.deepEqual(stepOf(state, "b")?.alternatives, ["x", "y"]);
  });

  test("at least one alternative, for the running step, by the holder", () => {
    given(runningB())
      .when(produce([]))
      .thenFails(InvalidInputError, /at least one/);
    given(runningB())
      .when(produce(["x"], "w2"))
      .thenFails(InvalidStateError);
    given(runningB())
      .when(produce(["x"], WORKER, "c"))
      .thenFails(InvalidStateError);
  });
});

describe("CompleteStep", () => {
  const complete = (stepId = "a", workerId = WORKER) =>
    command(4, {
      type: "CompleteStep",
      workerId,
      stepId,
      output: { ok: stepId },
      truncated: false,
      message: "done",
    });

  test("the running step completes with its output", () => {
    const state = given(history.runningA())
      .when(complete())
      .thenDecides([ev.completed(4, "a")]);
    const step = stepOf(state, "a");
    assert.equal(step?.status, "COMPLETED");
    assert.deepEqual(step?.output, { ok: "a" });
    assert.equal(step?.completedAt, at(4));
    assert.equal(step?.progress, 1);
  });

  test("only the running step, by the holder, of an active run", () => {
    given(history.runningA()).when(complete("b")).thenFails(InvalidStateError);
    given(history.runningA()).when(complete("a", "w2")).thenFails(InvalidStateError);
    given([...history.runningA(), ev.cancelled(4)])
      .when(complete())
      .thenFails(InvalidStateError);
  });
});

describe("FailStep", () => {
  const fail = (willRetry: boolean, workerId = WORKER) =>
    command(4, { type: "FailStep", workerId, stepId: "a", error: "boom", willRetry });

  test("a failure the pipeline retries sends the step to a fresh next attempt", () => {
    const state = given(history.runningA())
      .when(fail(true))
      .thenDecides([ev.stepFailed(4, "a", "boom", true)]);
    const step = stepOf(state, "a");
    assert.equal(step?.status, "PENDING");
    assert.equal(step?.attempt, 2);
    assert.equal(step?.error, null);
    assert.equal(step?.startedAt, null);
    assert.equal(step?.progress, null);
    assert.match(step?.message ?? "", /attempt 1 failed: boom/);
    assert.equal(asRun(state).status, "RUNNING");
  });

  test("a final failure fails the step and the run", () => {
    const state = given(history.runningA())
      .when(fail(false))
      .thenDecides([ev.stepFailed(4, "a", "boom", false), ev.runFailed(4, "step a failed: boom")]);
    const run = asRun(state);
    assert.equal(run.status, "FAILED");
    assert.equal(run.error, "step a failed: boom");
    assert.equal(stepOf(state, "a")?.status, "FAILED");
    assert.equal(stepOf(state, "a")?.error, "boom");
  });

  test("only by the holder, for the running step", () => {
    given(history.runningA()).when(fail(false, "w2")).thenFails(InvalidStateError);
    given(history.claimed())
      .when(fail(false))
      .thenFails(InvalidStateError, /not RUNNING/);
  });
});

describe("CompleteRun", () => {
  const completeRun = (seconds: number, workerId = WORKER) =>
    command(seconds, { type: "CompleteRun", workerId });
  const allDone = () => history.completed().slice(0, -1);

  test("completes once every step is done", () => {
    const state = given(allDone())
      .when(completeRun(10))
      .thenDecides([ev.runCompleted(10)]);
    const run = asRun(state);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.completedAt, at(10));
    assert.equal(run.workerId, null);
  });

  test("not while a step is unfinished, and only by the holder", () => {
    given(history.runningA())
      .when(completeRun(5))
      .thenFails(InvalidStateError, /cannot complete/);
    given(allDone())
      .when(completeRun(10, "w2"))
      .thenFails(InvalidStateError, /does not hold/);
    given(history.completed()).when(completeRun(11)).thenFails(InvalidStateError);
  });
});

describe("ReleaseRun", () => {
  test("the holder hands the run back; its running step starts over with the same attempt", () => {
    const state = given(history.runningA())
      .when(command(5, { type: "ReleaseRun", workerId: WORKER }))
      .thenDecides([{ type: "RunReleased", data: { workerId: WORKER, at: at(5) } }]);
    const run = asRun(state);
    assert.equal(run.workerId, null);
    assert.equal(run.leaseExpiresAt, null);
    assert.equal(run.status, "RUNNING");
    assert.equal(run.steps[0]?.status, "PENDING");
    assert.equal(run.steps[0]?.attempt, 1);
    assert.equal(run.steps[0]?.startedAt, null);
  });

  test("only the holder may release", () => {
    given(history.runningA())
      .when(command(5, { type: "ReleaseRun", workerId: "someone-else" }))
      .thenFails(InvalidStateError, /does not hold/);
    given(history.pending())
      .when(command(5, { type: "ReleaseRun", workerId: WORKER }))
      .thenFails(InvalidStateError, /held by nobody/);
  });
});
