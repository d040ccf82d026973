import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, test, vi } from "vitest";
import type { AppContext } from "../../src/app/app-context.js";
import type { PipelineDefinition, StepContext } from "../../src/pipelines/pipeline.js";
import { executeRunCommand } from "../../src/runs/execute.js";
import type { Json } from "../../src/shared/json.js";
import { type RunningWorker, startWorker } from "../../src/worker/start-worker.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { eventsOf, openTestContext, readRun, startRun, waitForRun } from "./support.js";

const HEARTBEAT_MS = 100;
const executions: string[] = [];
const aborts = new Map<string, number>();

const step = (
  id: string,
  run: (ctx: StepContext) => Promise<Awaited<ReturnType<PipelineDefinition["steps"][0]["run"]>>>,
  retry?: { attempts: number; backoffMs: number },
) => ({
  id,
  name: id,
  retry,
  run: async (ctx: StepContext) => {
    executions.push(`${ctx.runId}/${id}/${ctx.attempt}`);
    return run(ctx);
  },
});

/** Resolves after `ms`, or rejects when the step's signal aborts (noting when). */
const hold = (ctx: StepContext, ms: number) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    ctx.signal.addEventListener("abort", () => {
      aborts.set(ctx.runId, Date.now());
      clearTimeout(timer);
      reject(ctx.signal.reason);
    });
  });

const PIPELINES: PipelineDefinition[] = [
  {
    name: "chain",
    description: "outputs flow to later steps",
    steps: [
      step("a", async () => ({ output: { n: 1 } })),
      step("b", async (ctx) => ({ output: { n: ((ctx.outputs.a as { n: number }).n ?? 0) + 1 } })),
    ],
    validateInput: () => null,
  },
  {
    name: "boom",
    description: "a handler that throws",
    steps: [step("x", async () => Promise.reject(new Error("disk on fire")))],
    validateInput: () => null,
  },
  {
    name: "flaky",
    description: "fails twice, then succeeds, with two automatic retries",
    steps: [
      step(
        "f",
        async (ctx) => {
          if (ctx.attempt < 3) throw new Error(`flake ${ctx.attempt}`);
          return { output: "ok" };
        },
        { attempts: 2, backoffMs: 40 },
      ),
    ],
    validateInput: () => null,
  },
  {
    name: "slow",
    description: "a quick step, then one that holds for input.holdMs",
    steps: [
      step("quick", async () => ({ output: "done" })),
      step("hold", async (ctx) => {
        await hold(ctx, (ctx.input as { holdMs: number }).holdMs);
        return { output: "held" };
      }),
    ],
    validateInput: () => null,
  },
  {
    name: "big",
    description: "an output over the limit",
    steps: [step("g", async () => ({ output: { text: "x".repeat(5_000) } }))],
    validateInput: () => null,
  },
  {
    name: "choose",
    description: "alternatives, then a step using the chosen one",
    steps: [
      step("c", async (ctx) => ({
        alternatives: [
          { v: 1, attempt: ctx.attempt },
          { v: 2, attempt: ctx.attempt },
        ],
      })),
      step("d", async (ctx) => ({ output: ctx.outputs.c ?? null })),
    ],
    validateInput: () => null,
  },
];

let db: TestDatabase;
let ctx: AppContext;
let worker: RunningWorker;

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await openTestContext(
    db.url,
    {
      HEARTBEAT_MS: String(HEARTBEAT_MS),
      LEASE_MS: "600",
      WORKER_POLL_MS: "200",
      WORKER_CONCURRENCY: "2",
      MAX_STEP_OUTPUT_BYTES: "2000",
      MAX_TAKEOVERS: "3",
    },
    PIPELINES,
  );
  worker = await startWorker(ctx, { id: "w1", sweeper: false });
});

afterAll(async () => {
  await worker?.stop();
  await ctx?.close();
  await db?.drop();
});

const start = (pipeline: string, input: Json = {}) => startRun(ctx.store, ctx.pipelines, pipeline, input);

test("executes every step in order, passing outputs on, then completes the run", async () => {
  const runId = await start("chain");
  const { run, events } = await waitForRun(ctx.store, runId, (current) => current.status === "COMPLETED");
  assert.deepEqual(
    run.steps.map((current) => [current.id, current.status, current.output]),
    [
      ["a", "COMPLETED", { n: 1 }],
      ["b", "COMPLETED", { n: 2 }],
    ],
  );
  assert.deepEqual(
    events.map((event) => event.type),
    [
      "RunStarted",
      "RunClaimed",
      "StepStarted",
      "StepCompleted",
      "StepStarted",
      "StepCompleted",
      "RunCompleted",
    ],
  );
  // The lease row goes once the worker is done with the run (just after RunCompleted is stored).
  await vi.waitFor(async () => assert.equal(await ctx.prisma.runLease.count({ where: { runId } }), 0), {
    timeout: 5_000,
  });
});

test("a handler exception fails the step with its message, and the run", async () => {
  const runId = await start("boom");
  const { run, events } = await waitForRun(ctx.store, runId, (current) => current.status === "FAILED");
  assert.equal(run.steps[0]?.error, "disk on fire");
  assert.equal(run.error, "step x failed: disk on fire");
  assert.deepEqual(
    eventsOf(events, "StepFailed").map((event) => event.data.willRetry),
    [false],
  );
});

test("automatic retries follow the step's policy, with backoff", async () => {
  const runId = await start("flaky");
  const { run, events } = await waitForRun(ctx.store, runId, (current) => current.status === "COMPLETED");
  assert.equal(run.steps[0]?.attempt, 3);
  const failed = eventsOf(events, "StepFailed");
  assert.deepEqual(
    failed.map((event) => [event.data.error, event.data.willRetry]),
    [
      ["flake 1", true],
      ["flake 2", true],
    ],
  );
  const starts = eventsOf(events, "StepStarted").map((event) => event.occurredAt.getTime());
  const fails = failed.map((event) => event.occurredAt.getTime());
  // Backoff: 40 ms before the first retry, 80 ms before the second.
  assert.ok((starts[1] ?? 0) - (fails[0] ?? 0) >= 35, "first backoff");
  assert.ok((starts[2] ?? 0) - (fails[1] ?? 0) >= 75, "second backoff, doubled");
});

test("an output over MAX_STEP_OUTPUT_BYTES is cut and flagged", async () => {
  const runId = await start("big");
  const { run } = await waitForRun(ctx.store, runId, (current) => current.status === "COMPLETED");
  const [only] = run.steps;
  assert.equal(only?.outputTruncated, true);
  assert.match(only?.message ?? "", /exceeds the limit of 2000 bytes/);
  assert.ok(JSON.stringify(only?.output).length <= 2000);
});

test("alternatives make the run wait; the selection feeds the next step; retry replaces them", async () => {
  const runId = await start("choose");
  let { run } = await waitForRun(ctx.store, runId, (current) => current.status === "AWAITING_INPUT");
  assert.deepEqual(run.steps[0]?.alternatives, [
    { v: 1, attempt: 1 },
    { v: 2, attempt: 1 },
  ]);
  assert.equal(run.workerId, null);
  await executeRunCommand(ctx.store, {
    type: "RetryStep",
    runId,
    stepId: "c",
    now: new Date().toISOString(),
  });
  ({ run } = await waitForRun(
    ctx.store,
    runId,
    (current) => current.status === "AWAITING_INPUT" && current.steps[0]?.attempt === 2,
  ));
  assert.deepEqual(run.steps[0]?.alternatives, [
    { v: 1, attempt: 2 },
    { v: 2, attempt: 2 },
  ]);
  await executeRunCommand(ctx.store, {
    type: "SelectAlternative",
    runId,
    stepId: "c",
    index: 1,
    now: new Date().toISOString(),
  });
  ({ run } = await waitForRun(ctx.store, runId, (current) => current.status === "COMPLETED"));
  assert.deepEqual(run.steps[1]?.output, { v: 2, attempt: 2 });
  assert.deepEqual(
    executions.filter((entry) => entry.startsWith(runId)),
    [`${runId}/c/1`, `${runId}/c/2`, `${runId}/d/1`],
  );
});

test("cancellation reaches the running step within one heartbeat", async () => {
  const runId = await start("slow", { holdMs: 30_000 });
  await waitForRun(ctx.store, runId, (current) => current.steps[1]?.status === "RUNNING");
  const cancelledAt = Date.now();
  await executeRunCommand(ctx.store, {
    type: "CancelRun",
    runId,
    reason: "stop",
    now: new Date().toISOString(),
  });
  const deadline = Date.now() + 2_000;
  while (!aborts.has(runId) && Date.now() < deadline) await sleep(10);
  const abortedAt = aborts.get(runId);
  assert.ok(abortedAt, "the step's signal aborted");
  assert.ok(
    abortedAt - cancelledAt <= HEARTBEAT_MS + 100,
    `aborted ${abortedAt - cancelledAt} ms after the cancel`,
  );
  await sleep(HEARTBEAT_MS * 2);
  const { run, events } = await readRun(ctx.store, runId);
  assert.equal(run.status, "CANCELLED");
  assert.equal(events.at(-1)?.type, "RunCancelled", "the worker wrote nothing after the cancel");
  // The slot is free again: another run goes through.
  const next = await start("chain");
  await waitForRun(ctx.store, next, (current) => current.status === "COMPLETED");
});

test("a takeover aborts the old holder's step; finished steps are not executed again", async () => {
  const runId = await start("slow", { holdMs: 1_500 });
  await waitForRun(ctx.store, runId, (current) => current.steps[1]?.status === "RUNNING");
  // Another worker takes the run over (as if w1's lease had expired) and then dies at once.
  const claimedAt = Date.now();
  await executeRunCommand(ctx.store, {
    type: "ClaimRun",
    runId,
    now: new Date().toISOString(),
    workerId: "thief",
    leaseMs: 300,
    currentLeaseExpired: true,
    maxTakeovers: 3,
  });
  const deadline = Date.now() + 2_000;
  while (!aborts.has(runId) && Date.now() < deadline) await sleep(10);
  const abortedAt = aborts.get(runId);
  assert.ok(
    abortedAt && abortedAt - claimedAt <= HEARTBEAT_MS + 100,
    "the old holder stopped within a heartbeat",
  );
  // The thief's lease runs out; w1 takes the run back and finishes it.
  const { run, events } = await waitForRun(ctx.store, runId, (current) => current.status === "COMPLETED");
  assert.equal(run.takeovers, 2);
  assert.deepEqual(
    eventsOf(events, "RunClaimed").map((event) => [event.data.workerId, event.data.takeover]),
    [
      ["w1", false],
      ["thief", true],
      ["w1", true],
    ],
  );
  assert.deepEqual(
    executions.filter((entry) => entry.startsWith(runId)),
    [`${runId}/quick/1`, `${runId}/hold/1`, `${runId}/hold/1`],
    "the quick step ran once; the interrupted one started over",
  );
});

test("a worker stopping mid-step hands the run back; the next claim is not a takeover", async () => {
  const runId = await start("slow", { holdMs: 30_000 });
  await waitForRun(ctx.store, runId, (current) => current.steps[1]?.status === "RUNNING");
  await worker.stop();
  const released = await readRun(ctx.store, runId);
  assert.equal(released.events.at(-1)?.type, "RunReleased");
  assert.equal(released.run.workerId, null);
  assert.equal(released.run.steps[1]?.status, "PENDING", "the interrupted step starts over");
  assert.equal(released.run.steps[0]?.status, "COMPLETED", "the finished step is kept");
  // A new worker claims it at once (no lease to wait for) and no takeover is counted.
  worker = await startWorker(ctx, { id: "w2", sweeper: false });
  const { run, events } = await waitForRun(ctx.store, runId, (current) => current.workerId === "w2");
  assert.equal(run.takeovers, 0);
  assert.deepEqual(
    eventsOf(events, "RunClaimed").map((event) => [event.data.workerId, event.data.takeover]),
    [
      ["w1", false],
      ["w2", false],
    ],
  );
  await executeRunCommand(ctx.store, {
    type: "CancelRun",
    runId,
    reason: null,
    now: new Date().toISOString(),
  });
});
