import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, test } from "vitest";
import type { AppContext } from "../../src/app/app-context.js";
import { executeRunCommand } from "../../src/runs/execute.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { spawnWorker, stopAllWorkers, type WorkerProcess } from "./processes.js";
import { eventsOf, openTestContext, startRun, waitForRun } from "./support.js";

const HEARTBEAT_MS = 200;
let db: TestDatabase;
let ctx: AppContext;
let worker: WorkerProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await openTestContext(db.url);
  worker = spawnWorker(db.url, {
    LEASE_MS: "2000",
    HEARTBEAT_MS: String(HEARTBEAT_MS),
    WORKER_POLL_MS: "200",
    WORKER_CONCURRENCY: "1",
  });
  await worker.ready;
});
afterAll(async () => {
  await stopAllWorkers();
  await ctx?.close();
  await db?.drop();
});

const now = () => new Date().toISOString();
type Plan = { label: string; attempt: number; choices: { varKeyword: string } };
type Applied = { files: { path: string; content: string }[]; unfixed: { rule: string }[] };

test("autofix end to end: alternatives, retry of that step replaces them, selection, patched files", async () => {
  const files = [
    { path: "src/counter.js", content: "var count = 0;\nvar step = 2;   \ncount += step;\n// TODO: persist" },
    { path: "README.md", content: "# demo \n" },
  ];
  const runId = await startRun(ctx.store, ctx.pipelines, "autofix", { files });
  let { run } = await waitForRun(ctx.store, runId, (current) => current.status === "AWAITING_INPUT");
  const generate = run.steps.find((step) => step.id === "generate");
  assert.equal(generate?.status, "AWAITING_SELECTION");
  assert.deepEqual(
    ((generate?.alternatives ?? []) as Plan[]).map((plan) => [plan.choices.varKeyword, plan.attempt]),
    [
      ["const-when-safe", 1],
      ["let", 1],
    ],
  );

  await executeRunCommand(ctx.store, { type: "RetryStep", runId, stepId: "generate", now: now() });
  ({ run } = await waitForRun(
    ctx.store,
    runId,
    (current) => current.status === "AWAITING_INPUT" && current.steps[2]?.attempt === 2,
  ));
  assert.deepEqual(
    ((run.steps[2]?.alternatives ?? []) as Plan[]).map((plan) => plan.attempt),
    [2, 2],
    "the retried step produced new alternatives",
  );

  await executeRunCommand(ctx.store, {
    type: "SelectAlternative",
    runId,
    stepId: "generate",
    index: 0,
    now: now(),
  });
  const done = await waitForRun(ctx.store, runId, (current) => current.status === "COMPLETED");
  const applied = done.run.steps[3]?.output as Applied;
  assert.deepEqual(applied.files, [
    {
      path: "src/counter.js",
      content: "let count = 0;\nconst step = 2;\ncount += step;\n// TODO: persist\n",
      changed: true,
      fixesApplied: 4,
    },
    { path: "README.md", content: "# demo\n", changed: true, fixesApplied: 1 },
  ]);
  assert.deepEqual(
    applied.unfixed.map((issue) => issue.rule),
    ["todo-marker"],
  );
  assert.deepEqual(
    eventsOf(done.events, "StepStarted").map((event) => `${event.data.stepId}/${event.data.attempt}`),
    ["scan/1", "analyze/1", "generate/1", "generate/2", "apply/1"],
  );
});

test("refactor end to end, verified clean", async () => {
  const content =
    "export function f(a, b) {\n  debugger;\n  console.log(a);\n  return a == b || a != null;\n}\n";
  const runId = await startRun(ctx.store, ctx.pipelines, "refactor", { files: [{ path: "f.ts", content }] });
  const { run } = await waitForRun(ctx.store, runId, (current) => current.status === "AWAITING_INPUT");
  const labels = ((run.steps[2]?.alternatives ?? []) as Plan[]).map((plan) => plan.label);
  assert.equal(labels.length, 4);
  await executeRunCommand(ctx.store, {
    type: "SelectAlternative",
    runId,
    stepId: "plan",
    index: 0,
    now: now(),
  });
  const done = await waitForRun(ctx.store, runId, (current) => current.status === "COMPLETED");
  const applied = done.run.steps[3]?.output as Applied;
  assert.equal(applied.files[0]?.content, "export function f(a, b) {\n  return a === b || a !== null;\n}\n");
  assert.equal((done.run.steps[4]?.output as { clean?: boolean } | undefined)?.clean, true);
});

test("cancelling a run aborts its running step within one heartbeat and frees the worker", async () => {
  const files = [{ path: "a.ts", content: "export const a = 1;\n" }];
  const runId = await startRun(ctx.store, ctx.pipelines, "autofix", { files, delayMs: 30_000 });
  await waitForRun(ctx.store, runId, (current) => current.steps[0]?.status === "RUNNING");
  await sleep(300);
  const cancelledAt = Date.now();
  await executeRunCommand(ctx.store, { type: "CancelRun", runId, reason: "changed my mind", now: now() });
  const deadline = Date.now() + 3_000;
  let aborted: Record<string, unknown> | undefined;
  while (!aborted && Date.now() < deadline) {
    aborted = worker.logs.find((line) => line.msg === "step aborted" && line.runId === runId);
    await sleep(20);
  }
  assert.ok(aborted, "the worker logged the aborted step");
  const after = Number(aborted.time) - cancelledAt;
  assert.ok(after <= HEARTBEAT_MS + 150, `step aborted ${after} ms after the cancel`);
  // Concurrency 1: the next run can only go through because the slot was freed.
  const next = await startRun(ctx.store, ctx.pipelines, "autofix", { files });
  // Its steps run in worker threads; a busy machine may take a few seconds to start a new one.
  await waitForRun(ctx.store, next, (current) => current.status === "COMPLETED", 15_000);
  const { events } = await waitForRun(ctx.store, runId, (current) => current.status === "CANCELLED");
  assert.equal(events.at(-1)?.type, "RunCancelled");
  console.log(`# cancellation reached the step ${after} ms after CancelRun (HEARTBEAT_MS ${HEARTBEAT_MS})`);
});
