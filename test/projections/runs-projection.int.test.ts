import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import { createProjectionEngine } from "../../src/projections/create-projection-engine.js";
import type { ProjectionEngine } from "../../src/projections/projection-engine.js";
import { runsProjection } from "../../src/projections/runs/runs-projection.js";
import { claim, openFixture, type ProjectionFixture, run, startRun } from "./support.js";

let f: ProjectionFixture;
let engine: ProjectionEngine;
beforeAll(async () => {
  f = await openFixture();
  engine = createProjectionEngine(f);
  engine.start();
});
afterAll(async () => {
  await engine.stop();
  await f.close();
});

/** Runs the command, waits for the read model (read-your-writes) and returns the run's rows. */
async function step(command: Parameters<typeof run>[1]) {
  const position = await run(f.store, command);
  if (position) await engine.waitFor(position, 5_000);
  return rows(command.runId);
}

async function rows(runId: string) {
  const found = await f.prisma.run.findUniqueOrThrow({
    where: { id: runId },
    include: { steps: { orderBy: { index: "asc" } } },
  });
  const revision = (await f.store.streamRevision(`run-${runId}`)) ?? -1;
  assert.equal(found.revision, revision, "the row carries its stream's revision");
  return found;
}

const stepOf = (found: Awaited<ReturnType<typeof rows>>, id: string) => {
  const row = found.steps.find((candidate) => candidate.id === id);
  assert.ok(row, `step ${id}`);
  return row;
};

test("each event type's effect on runs and steps", async () => {
  const p = await startRun(f.store, "e1");
  await engine.waitFor(p as string, 5_000);
  let found = await rows("e1");
  assert.equal(found.status, "PENDING");
  assert.equal(found.phase, null);
  assert.equal(found.pipeline, "autofix");
  assert.equal(found.workspaceId, "ws-1");
  assert.deepEqual(found.input, { repo: "acme/app", issue: 7 });
  assert.deepEqual(
    found.steps.map((s) => [s.id, s.index, s.name, s.status, s.attempt]),
    [
      ["plan", 0, "Plan", "PENDING", 1],
      ["edit", 1, "Edit", "PENDING", 1],
      ["review", 2, "Review", "PENDING", 1],
    ],
  );

  await claim(f.store, "e1");
  found = await step({ type: "StartStep", runId: "e1", workerId: "w1", stepId: "plan" });
  assert.equal(found.status, "RUNNING");
  assert.equal(found.workerId, "w1");
  assert.ok(found.leaseExpiresAt);
  assert.equal(found.phase, "Plan");
  assert.equal(stepOf(found, "plan").status, "RUNNING");
  assert.equal(stepOf(found, "plan").progress, 0);
  assert.ok(stepOf(found, "plan").startedAt);

  found = await step({
    type: "ReportProgress",
    runId: "e1",
    workerId: "w1",
    stepId: "plan",
    progress: 0.4,
    message: "reading",
  });
  assert.equal(stepOf(found, "plan").progress, 0.4);
  assert.equal(stepOf(found, "plan").message, "reading");

  found = await step({
    type: "CompleteStep",
    runId: "e1",
    workerId: "w1",
    stepId: "plan",
    output: { plan: ["a", "b"] },
    truncated: true,
    message: null,
  });
  const plan = stepOf(found, "plan");
  assert.equal(plan.status, "COMPLETED");
  assert.deepEqual(plan.output, { plan: ["a", "b"] });
  assert.equal(plan.outputTruncated, true);
  assert.equal(plan.progress, 1);
  assert.ok(plan.completedAt);
  assert.equal(found.phase, null);

  await step({ type: "StartStep", runId: "e1", workerId: "w1", stepId: "edit" });
  found = await step({
    type: "ProduceAlternatives",
    runId: "e1",
    workerId: "w1",
    stepId: "edit",
    alternatives: [{ patch: 1 }, { patch: 2 }],
  });
  assert.equal(found.status, "AWAITING_INPUT");
  assert.equal(found.workerId, null);
  assert.equal(found.phase, "Edit");
  assert.equal(stepOf(found, "edit").status, "AWAITING_SELECTION");
  assert.deepEqual(stepOf(found, "edit").alternatives, [{ patch: 1 }, { patch: 2 }]);

  found = await step({ type: "SelectAlternative", runId: "e1", stepId: "edit", index: 1 });
  assert.equal(found.status, "RUNNING");
  assert.equal(stepOf(found, "edit").status, "COMPLETED");
  assert.equal(stepOf(found, "edit").selectedIndex, 1);
  assert.deepEqual(stepOf(found, "edit").output, { patch: 2 });

  await claim(f.store, "e1", "w2");
  await step({ type: "StartStep", runId: "e1", workerId: "w2", stepId: "review" });
  found = await step({
    type: "FailStep",
    runId: "e1",
    workerId: "w2",
    stepId: "review",
    error: "boom",
    willRetry: true,
  });
  assert.equal(stepOf(found, "review").status, "PENDING");
  assert.equal(stepOf(found, "review").attempt, 2);
  assert.match(stepOf(found, "review").message ?? "", /attempt 1 failed: boom/);

  await step({ type: "StartStep", runId: "e1", workerId: "w2", stepId: "review" });
  found = await step({
    type: "FailStep",
    runId: "e1",
    workerId: "w2",
    stepId: "review",
    error: "boom again",
    willRetry: false,
  });
  assert.equal(found.status, "FAILED");
  assert.match(found.error ?? "", /boom again/);
  assert.ok(found.completedAt);
  assert.equal(stepOf(found, "review").status, "FAILED");
  assert.equal(stepOf(found, "review").error, "boom again");

  found = await step({ type: "RetryStep", runId: "e1", stepId: "review" });
  assert.equal(found.status, "RUNNING");
  assert.equal(found.error, null);
  assert.equal(found.completedAt, null);
  assert.equal(stepOf(found, "review").attempt, 3);

  await claim(f.store, "e1", "w3");
  await step({ type: "StartStep", runId: "e1", workerId: "w3", stepId: "review" });
  await step({
    type: "CompleteStep",
    runId: "e1",
    workerId: "w3",
    stepId: "review",
    output: "ok",
    truncated: false,
    message: "done",
  });
  found = await step({ type: "CompleteRun", runId: "e1", workerId: "w3" });
  assert.equal(found.status, "COMPLETED");
  assert.equal(found.workerId, null);
  assert.ok(found.completedAt);

  found = await step({ type: "RerunRun", runId: "e1" });
  assert.equal(found.status, "PENDING");
  assert.equal(found.takeovers, 0);
  assert.deepEqual(
    found.steps.map((s) => [s.status, s.attempt]),
    [
      ["PENDING", 2],
      ["PENDING", 2],
      ["PENDING", 4],
    ],
  );

  found = await step({ type: "CancelRun", runId: "e1", reason: "changed my mind" });
  assert.equal(found.status, "CANCELLED");
  assert.equal(found.error, "changed my mind");
});

test("retry and resume reset every field of the re-executed steps (no stale alternatives)", async () => {
  await startRun(f.store, "r1");
  await claim(f.store, "r1");
  await step({ type: "StartStep", runId: "r1", workerId: "w1", stepId: "plan" });
  await step({
    type: "CompleteStep",
    runId: "r1",
    workerId: "w1",
    stepId: "plan",
    output: { plan: 1 },
    truncated: true,
    message: "planned",
  });
  await step({ type: "StartStep", runId: "r1", workerId: "w1", stepId: "edit" });
  await step({
    type: "ProduceAlternatives",
    runId: "r1",
    workerId: "w1",
    stepId: "edit",
    alternatives: [{ patch: "old-a" }, { patch: "old-b" }],
  });
  await step({ type: "SelectAlternative", runId: "r1", stepId: "edit", index: 0 });

  const fresh = {
    status: "PENDING",
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
  const pick = (row: Record<string, unknown>) =>
    Object.fromEntries(Object.keys(fresh).map((k) => [k, row[k]]));

  let found = await step({ type: "RetryStep", runId: "r1", stepId: "edit" });
  assert.deepEqual(pick(stepOf(found, "edit")), fresh);
  assert.equal(stepOf(found, "edit").attempt, 2);
  assert.equal(stepOf(found, "plan").status, "COMPLETED", "retry leaves earlier steps alone");
  assert.deepEqual(pick(stepOf(found, "review")), fresh, "and resets the later ones");

  // The worker runs the retried step up to new alternatives, then the client resumes from the start.
  await claim(f.store, "r1", "w2");
  await step({ type: "StartStep", runId: "r1", workerId: "w2", stepId: "edit" });
  await step({
    type: "ProduceAlternatives",
    runId: "r1",
    workerId: "w2",
    stepId: "edit",
    alternatives: [{ patch: "new" }],
  });
  found = await step({ type: "ResumeFromStep", runId: "r1", stepId: "plan" });
  for (const id of ["plan", "edit", "review"]) assert.deepEqual(pick(stepOf(found, id)), fresh, id);
  assert.deepEqual(
    found.steps.map((s) => s.attempt),
    [2, 3, 1],
  );
  assert.equal(found.phase, null);
  assert.equal(found.workerId, null);
});

test("waitFor times out with ReadModelTimeoutError for a position never reached", async () => {
  await assert.rejects(engine.waitFor("ffffffffffffffff-ffffffffffffffff", 50), {
    name: "ReadModelTimeoutError",
  });
});

test("status reports the checkpoint and no lag once caught up", async () => {
  const p = await startRun(f.store, "s1");
  await engine.waitFor(p as string, 5_000);
  const [status] = await engine.status();
  assert.equal(status?.name, "runs");
  assert.equal(status?.version, runsProjection.version);
  assert.ok((status?.position ?? "") >= (p as string));
  assert.equal(status?.lag, 0);
});
