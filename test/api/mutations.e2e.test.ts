import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, test } from "vitest";
import { runStreamName } from "../../src/runs/events.js";
import { executeRunCommand } from "../../src/runs/execute.js";
import { deterministicUuid, newId } from "../../src/shared/ids.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { gql, gqlErrorCode, gqlOk } from "../support/graphql-client.js";
import { RUN_FIELDS, type RunJson, START_RUN } from "./fragments.js";
import { claim, drive, failOnApply, produceAlternatives, startStep } from "./worker-driver.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { MAX_INPUT_BYTES: "200", STALE_AFTER_MS: "600000" } });
});
afterAll(async () => {
  await app?.close();
});

const start = async (variables: Record<string, unknown> = {}) =>
  (
    await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, {
      pipeline: "test",
      input: { repo: "r" },
      ...variables,
    })
  ).startRun;

const eventCount = async (runId: string) => (await app.ctx.store.readStream(runStreamName(runId))).length;

const mutation = (name: string, args: string, params: string) =>
  `mutation(${params}) { ${name}(${args}) { ${RUN_FIELDS} } }`;
const RETRY = mutation(
  "retryStep",
  "runId: $runId, stepId: $stepId, expectedRevision: $rev",
  "$runId: ID!, $stepId: ID!, $rev: Int",
);
const RESUME = mutation(
  "resumeFromStep",
  "runId: $runId, stepId: $stepId, expectedRevision: $rev",
  "$runId: ID!, $stepId: ID!, $rev: Int",
);
const SELECT = mutation(
  "selectAlternative",
  "runId: $runId, stepId: $stepId, index: $index, expectedRevision: $rev",
  "$runId: ID!, $stepId: ID!, $index: Int!, $rev: Int",
);
const CANCEL = mutation(
  "cancelRun",
  "runId: $runId, expectedRevision: $rev, reason: $reason",
  "$runId: ID!, $rev: Int, $reason: String",
);
const RERUN = mutation("rerunRun", "runId: $runId, expectedRevision: $rev", "$runId: ID!, $rev: Int");
const FAIL_STALE = mutation("failStaleRun", "runId: $runId, reason: $reason", "$runId: ID!, $reason: String");

describe("startRun", () => {
  test("starts a run and answers with it as the read model has it", async () => {
    const run = await start({ input: { repo: "acme/api", ref: "main" } });
    assert.equal(run.status, "PENDING");
    assert.equal(run.revision, 0);
    assert.deepEqual(run.input, { repo: "acme/api", ref: "main" });
    assert.equal(run.steps.length, 3);
    assert.equal(await eventCount(run.id), 1);
  });

  test("with an idempotency key, the same key returns the first run and starts nothing", async () => {
    const key = `deploy-${newId()}`;
    const first = await start({ key });
    assert.equal(first.id, deterministicUuid(`default/${key}`));
    const again = await start({ key });
    assert.deepEqual(again, first);
    // The same key with another request is a client bug: refused, not answered with the first run.
    const different = await gql(app.baseUrl, START_RUN, {
      pipeline: "test",
      input: { repo: "different" },
      key,
    });
    assert.equal(different.errors?.[0]?.extensions?.code, "CONFLICT");
    assert.match(different.errors?.[0]?.message ?? "", /already used .* another input/);
    // Concurrent repeats too: one run, one event.
    const repeats = await Promise.all([1, 2, 3, 4].map(() => start({ key })));
    assert.ok(repeats.every((run) => run.id === first.id));
    assert.equal(await eventCount(first.id), 1);
    const other = await start({ key: `${key}-2` });
    assert.notEqual(other.id, first.id);
  });

  test("the same key with the same input written inline (not as a variable) returns the first run", async () => {
    // graphql-js builds inline object literals without a prototype; the stored input is parsed JSON.
    // Equal JSON must compare equal whatever objects carry it (the README's walkthrough sends literals).
    const key = `inline-${newId()}`;
    const literal = `mutation { startRun(pipeline: "test", input: {repo: "r", tags: ["a", {x: 1}]}, idempotencyKey: "${key}") { id } }`;
    const first = await gqlOk<{ startRun: { id: string } }>(app.baseUrl, literal);
    const again = await gqlOk<{ startRun: { id: string } }>(app.baseUrl, literal);
    assert.equal(again.startRun.id, first.startRun.id);
    assert.equal(await eventCount(first.startRun.id), 1);
  });

  test("concurrent first uses of one key start exactly one run", async () => {
    const key = `race-${newId()}`;
    const runs = await Promise.all([1, 2, 3, 4, 5].map(() => start({ key })));
    assert.equal(new Set(runs.map((run) => run.id)).size, 1);
    assert.equal(await eventCount(runs[0]?.id as string), 1);
  });

  test("rejects an unknown pipeline, invalid input, oversized input and a bad key with BAD_USER_INPUT", async () => {
    const cases: Record<string, unknown>[] = [
      { pipeline: "nope" },
      { input: { repo: 42 } },
      { input: null },
      { input: { repo: "r", padding: "x".repeat(300) } },
      { key: "" },
      { key: "k".repeat(201) },
    ];
    for (const variables of cases) {
      const result = await gql(app.baseUrl, START_RUN, {
        pipeline: "test",
        input: { repo: "r" },
        ...variables,
      });
      assert.equal(result.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(variables));
      assert.equal(result.data, null);
    }
    const oversized = await gql(app.baseUrl, START_RUN, {
      pipeline: "test",
      input: { repo: "x".repeat(300) },
    });
    assert.match(oversized.errors?.[0]?.message ?? "", /more than the 200 allowed/);
  });
});

describe("retryStep", () => {
  test("re-executes a failed step: attempt +1, cleared, run back to RUNNING", async () => {
    const run = await start();
    await drive(app.ctx, run.id, failOnApply());
    const failed = (
      await gqlOk<{ run: RunJson }>(app.baseUrl, `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, {
        id: run.id,
      })
    ).run;
    assert.equal(failed.status, "FAILED");
    assert.equal(failed.steps[1]?.status, "FAILED");
    const { retryStep } = await gqlOk<{ retryStep: RunJson }>(app.baseUrl, RETRY, {
      runId: run.id,
      stepId: "apply",
      rev: failed.revision,
    });
    assert.equal(retryStep.revision, failed.revision + 1);
    assert.equal(retryStep.status, "RUNNING");
    assert.equal(retryStep.error, null);
    const apply = retryStep.steps[1];
    assert.equal(apply?.status, "PENDING");
    assert.equal(apply?.attempt, 2);
    assert.equal(apply?.error, null);
    assert.equal(apply?.startedAt, null);
    assert.equal(retryStep.steps[0]?.status, "COMPLETED");
  });

  test("exactly one of N concurrent retries with the same expectedRevision succeeds; the rest get CONFLICT", async () => {
    const run = await start();
    await drive(app.ctx, run.id, failOnApply());
    const revision = (await eventCount(run.id)) - 1;
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        gql(app.baseUrl, RETRY, { runId: run.id, stepId: "apply", rev: revision }),
      ),
    );
    const succeeded = results.filter((result) => !result.errors);
    const codes = results.flatMap((result) => result.errors?.map((error) => error.extensions?.code) ?? []);
    assert.equal(succeeded.length, 1, JSON.stringify(results.map((result) => result.errors)));
    assert.deepEqual(codes, Array(5).fill("CONFLICT"));
    assert.equal(await eventCount(run.id), revision + 2, "exactly one StepRetried appended");
  });

  test("a stale expectedRevision is CONFLICT and appends nothing", async () => {
    const run = await start();
    await drive(app.ctx, run.id, failOnApply());
    const before = await eventCount(run.id);
    assert.equal(
      await gqlErrorCode(app.baseUrl, RETRY, { runId: run.id, stepId: "apply", rev: 1 }),
      "CONFLICT",
    );
    assert.equal(await eventCount(run.id), before);
    assert.equal(
      await gqlErrorCode(app.baseUrl, RETRY, { runId: run.id, stepId: "apply", rev: -1 }),
      "BAD_USER_INPUT",
    );
  });

  test("INVALID_STATE for a step never executed or still running; NOT_FOUND for unknown run or step", async () => {
    const run = await start();
    assert.equal(await gqlErrorCode(app.baseUrl, RETRY, { runId: run.id, stepId: "plan" }), "INVALID_STATE");
    await drive(app.ctx, run.id, [claim(), startStep("plan")]);
    assert.equal(await gqlErrorCode(app.baseUrl, RETRY, { runId: run.id, stepId: "plan" }), "INVALID_STATE");
    assert.equal(await gqlErrorCode(app.baseUrl, RETRY, { runId: run.id, stepId: "nope" }), "NOT_FOUND");
    assert.equal(await gqlErrorCode(app.baseUrl, RETRY, { runId: newId(), stepId: "plan" }), "NOT_FOUND");
    assert.equal(await eventCount(run.id), 3);
  });
});

test("resumeFromStep re-executes the step and every step after it", async () => {
  const run = await start();
  await drive(app.ctx, run.id, failOnApply());
  const { resumeFromStep } = await gqlOk<{ resumeFromStep: RunJson }>(app.baseUrl, RESUME, {
    runId: run.id,
    stepId: "plan",
  });
  assert.equal(resumeFromStep.status, "RUNNING");
  assert.deepEqual(
    resumeFromStep.steps.map((step) => [step.id, step.status, step.attempt]),
    [
      ["plan", "PENDING", 2],
      ["apply", "PENDING", 2],
      ["review", "PENDING", 1],
    ],
  );
  assert.equal(await gqlErrorCode(app.baseUrl, RESUME, { runId: run.id, stepId: "nope" }), "NOT_FOUND");
  assert.equal(
    await gqlErrorCode(app.baseUrl, RESUME, { runId: run.id, stepId: "plan", rev: 0 }),
    "CONFLICT",
  );
});

test("selectAlternative completes a step awaiting a selection with the chosen alternative", async () => {
  const run = await start();
  const alternatives = [{ patch: "a" }, { patch: "b" }];
  await drive(app.ctx, run.id, [claim(), startStep("plan"), produceAlternatives("plan", alternatives)]);
  const waiting = (
    await gqlOk<{ run: RunJson }>(app.baseUrl, `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, {
      id: run.id,
    })
  ).run;
  assert.equal(waiting.status, "AWAITING_INPUT");
  assert.equal(waiting.phase, "Plan");
  assert.deepEqual(waiting.steps[0]?.alternatives, alternatives);
  assert.equal(waiting.steps[0]?.status, "AWAITING_SELECTION");

  const bad = { runId: run.id, stepId: "plan" };
  assert.equal(await gqlErrorCode(app.baseUrl, SELECT, { ...bad, index: 2 }), "BAD_USER_INPUT");
  assert.equal(await gqlErrorCode(app.baseUrl, SELECT, { ...bad, index: -1 }), "BAD_USER_INPUT");
  assert.equal(
    await gqlErrorCode(app.baseUrl, SELECT, { ...bad, stepId: "apply", index: 0 }),
    "INVALID_STATE",
  );
  assert.equal(await gqlErrorCode(app.baseUrl, SELECT, { ...bad, index: 0, rev: 0 }), "CONFLICT");
  assert.equal(await gqlErrorCode(app.baseUrl, SELECT, { ...bad, stepId: "nope", index: 0 }), "NOT_FOUND");

  const { selectAlternative } = await gqlOk<{ selectAlternative: RunJson }>(app.baseUrl, SELECT, {
    ...bad,
    index: 1,
    rev: waiting.revision,
  });
  assert.equal(selectAlternative.status, "RUNNING");
  assert.equal(selectAlternative.steps[0]?.status, "COMPLETED");
  assert.equal(selectAlternative.steps[0]?.selectedIndex, 1);
  assert.deepEqual(selectAlternative.steps[0]?.output, { patch: "b" });
  assert.equal(await gqlErrorCode(app.baseUrl, SELECT, { ...bad, index: 0 }), "INVALID_STATE");
});

test("cancelRun then rerunRun", async () => {
  const run = await start();
  assert.equal(await gqlErrorCode(app.baseUrl, RERUN, { runId: run.id }), "INVALID_STATE");
  assert.equal(await gqlErrorCode(app.baseUrl, CANCEL, { runId: run.id, rev: 3 }), "CONFLICT");
  const { cancelRun } = await gqlOk<{ cancelRun: RunJson }>(app.baseUrl, CANCEL, {
    runId: run.id,
    rev: 0,
    reason: "not needed",
  });
  assert.equal(cancelRun.status, "CANCELLED");
  assert.equal(cancelRun.error, "not needed");
  assert.ok(cancelRun.completedAt);
  assert.equal(cancelRun.revision, 1);
  assert.equal(await gqlErrorCode(app.baseUrl, CANCEL, { runId: run.id }), "INVALID_STATE");

  const { rerunRun } = await gqlOk<{ rerunRun: RunJson }>(app.baseUrl, RERUN, { runId: run.id, rev: 1 });
  assert.equal(rerunRun.status, "PENDING");
  assert.equal(rerunRun.revision, 2);
  assert.equal(rerunRun.completedAt, null);
  assert.ok(rerunRun.steps.every((step) => step.status === "PENDING" && step.attempt === 1));
  assert.equal(await gqlErrorCode(app.baseUrl, RERUN, { runId: newId() }), "NOT_FOUND");
  assert.equal(await gqlErrorCode(app.baseUrl, CANCEL, { runId: newId() }), "NOT_FOUND");
});

describe("failStaleRun", () => {
  test("fails a run whose claim lease ran out with no heartbeat", async () => {
    const run = await start();
    await drive(app.ctx, run.id, [claim(1), startStep("plan")]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const { failStaleRun } = await gqlOk<{ failStaleRun: RunJson }>(app.baseUrl, FAIL_STALE, {
      runId: run.id,
      reason: "worker vanished",
    });
    assert.equal(failStaleRun.status, "FAILED");
    assert.equal(failStaleRun.error, "stale: worker vanished");
    assert.equal(failStaleRun.steps[0]?.status, "FAILED");
  });

  test("a heartbeat in run_leases of the run's worker keeps it alive; an expired one does not", async () => {
    const run = await start();
    await drive(app.ctx, run.id, [claim(1), startStep("plan")]);
    const row = await app.ctx.prisma.run.findUniqueOrThrow({ where: { id: run.id } });
    const lease = (expiresAt: Date, workerId = row.workerId as string) =>
      app.ctx.prisma.runLease.upsert({
        where: { runId: run.id },
        create: { runId: run.id, workerId, expiresAt, heartbeatAt: new Date() },
        update: { workerId, expiresAt },
      });
    await lease(new Date(Date.now() + 60_000));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await gqlErrorCode(app.baseUrl, FAIL_STALE, { runId: run.id }), "INVALID_STATE");
    // A lease row of some other worker says nothing about this run's worker: the claim's expiry counts.
    await lease(new Date(Date.now() + 60_000), "another-worker");
    const { failStaleRun } = await gqlOk<{ failStaleRun: RunJson }>(app.baseUrl, FAIL_STALE, {
      runId: run.id,
    });
    assert.equal(failStaleRun.status, "FAILED");
  });

  test("refuses a healthy run, an inactive run and an unknown run", async () => {
    const run = await start();
    assert.equal(await gqlErrorCode(app.baseUrl, FAIL_STALE, { runId: run.id }), "INVALID_STATE");
    await drive(app.ctx, run.id, [claim()]);
    assert.equal(await gqlErrorCode(app.baseUrl, FAIL_STALE, { runId: run.id }), "INVALID_STATE");
    assert.equal(await gqlErrorCode(app.baseUrl, FAIL_STALE, { runId: newId() }), "NOT_FOUND");
  });

  test("an expired heartbeat row does not end a live claim: the lease lasts until the later of the two", async () => {
    const run = await start();
    await drive(app.ctx, run.id, [claim(60_000), startStep("plan")]);
    const row = await app.ctx.prisma.run.findUniqueOrThrow({ where: { id: run.id } });
    await app.ctx.prisma.runLease.upsert({
      where: { runId: run.id },
      create: {
        runId: run.id,
        workerId: row.workerId as string,
        expiresAt: new Date(Date.now() - 1),
        heartbeatAt: new Date(),
      },
      update: { expiresAt: new Date(Date.now() - 1) },
    });
    assert.equal(await gqlErrorCode(app.baseUrl, FAIL_STALE, { runId: run.id }), "INVALID_STATE");
  });
});

test("runs of another workspace cannot be changed (NOT_FOUND) and stay untouched", async () => {
  const runId = newId();
  const started = await executeRunCommand(app.ctx.store, {
    type: "StartRun",
    runId,
    now: new Date().toISOString(),
    workspaceId: "elsewhere",
    pipeline: "test",
    steps: [{ id: "plan", name: "Plan" }],
    input: null,
    idempotencyKey: null,
  });
  await app.ctx.projections.waitFor(started.position as string, 5_000);
  assert.equal(await gqlErrorCode(app.baseUrl, CANCEL, { runId }), "NOT_FOUND");
  assert.equal(await gqlErrorCode(app.baseUrl, RETRY, { runId, stepId: "plan" }), "NOT_FOUND");
  assert.equal(await gqlErrorCode(app.baseUrl, FAIL_STALE, { runId }), "NOT_FOUND");
  assert.equal(await eventCount(runId), 1);
});
