import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import type { AppContext } from "../../src/app/app-context.js";
import type { StoredEvent } from "../../src/event-store/event-store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { spawnWorker, stopAllWorkers, type WorkerProcess } from "./processes.js";
import { eventsOf, openTestContext, readRun, startRun, waitForRun } from "./support.js";

const LEASE_MS = 1_000;
const ENV = {
  LEASE_MS: String(LEASE_MS),
  HEARTBEAT_MS: "200",
  WORKER_POLL_MS: "200",
  WORKER_CONCURRENCY: "2",
  MAX_TAKEOVERS: "1",
  SWEEP_INTERVAL_MS: "300",
  STALE_AFTER_MS: "600000",
};
const files = [{ path: "src/a.ts", content: "export const a = 1; \n" }];

let db: TestDatabase;
let ctx: AppContext;
const byId = new Map<string, WorkerProcess>();

async function spawnWorkers(count: number): Promise<WorkerProcess[]> {
  const workers = Array.from({ length: count }, () => spawnWorker(db.url, ENV));
  for (const worker of workers) byId.set(await worker.ready, worker);
  return workers;
}

/** kill -9 the process holding the run while `stepId` runs; returns the killed worker's id. */
async function killHolderDuring(runId: string, stepId: string): Promise<string> {
  const { run } = await waitForRun(ctx.store, runId, (current) =>
    current.steps.some((step) => step.id === stepId && step.status === "RUNNING"),
  );
  const holder = run.workerId;
  assert.ok(holder, "someone holds the run");
  const worker = byId.get(holder);
  assert.ok(worker, `worker ${holder} is one of ours`);
  await worker.kill("SIGKILL");
  return holder;
}

const starts = (events: StoredEvent[]) =>
  eventsOf(events, "StepStarted").map((event) => [
    event.data.stepId,
    event.data.attempt,
    event.data.workerId,
  ]);

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await openTestContext(db.url);
  await spawnWorkers(3);
});
afterAll(async () => {
  await stopAllWorkers();
  await ctx?.close();
  await db?.drop();
});

test("kill -9 mid-step: another worker takes over once the lease expires and resumes at that step", async () => {
  const runId = await startRun(ctx.store, ctx.pipelines, "autofix", { files, delayMs: 800 });
  const first = await killHolderDuring(runId, "analyze");
  const killedAt = Date.now();
  const { run, events } = await waitForRun(
    ctx.store,
    runId,
    (current) => current.status === "COMPLETED",
    20_000,
  );
  const claims = eventsOf(events, "RunClaimed");
  const second = claims[1]?.data.workerId;
  assert.ok(typeof second === "string" && second !== first);
  assert.deepEqual(
    claims.map((event) => [event.data.workerId, event.data.takeover]),
    [
      [first, false],
      [second, true],
    ],
  );
  assert.equal(run.takeovers, 1);
  const tookOverAfter = (claims[1]?.occurredAt.getTime() ?? 0) - killedAt;
  assert.ok(tookOverAfter <= LEASE_MS + 1_500, `taken over ${tookOverAfter} ms after the kill`);
  // scan finished under the first worker and never ran again; analyze started over under the second.
  assert.deepEqual(starts(events), [
    ["scan", 1, first],
    ["analyze", 1, first],
    ["analyze", 1, second],
    ["generate", 1, second],
    ["apply", 1, second],
  ]);
  assert.equal(eventsOf(events, "StepCompleted").length, 4);
  console.log(`# takeover ${tookOverAfter} ms after kill -9 (LEASE_MS ${LEASE_MS})`);
});

test("past MAX_TAKEOVERS nobody claims the run; two sweepers starting together fail it once", async () => {
  const runId = await startRun(ctx.store, ctx.pipelines, "autofix", { files, delayMs: 1_500 });
  const first = await killHolderDuring(runId, "scan");
  await waitForRun(
    ctx.store,
    runId,
    (current) => current.workerId !== null && current.workerId !== first,
    10_000,
  );
  await killHolderDuring(runId, "scan");
  // Every worker is dead now; two fresh ones start, and both sweep at start (and every 300 ms).
  const sweepers = await spawnWorkers(2);
  const { run, events } = await waitForRun(
    ctx.store,
    runId,
    (current) => current.status === "FAILED",
    10_000,
  );
  assert.match(run.error ?? "", /^stale: lease of worker .+ expired after 1 takeover\(s\) \(limit 1\)/);
  assert.equal(eventsOf(events, "RunClaimed").length, 2, "no third claim past the limit");
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const later = await readRun(ctx.store, runId);
  assert.equal(eventsOf(later.events, "RunFailed").length, 1, "failed exactly once");
  const sweeps = sweepers.flatMap((worker) =>
    worker.logs.filter((line) => line.msg === "failed a stale run"),
  );
  assert.equal(sweeps.length, 1, "one sweeper won, the other skipped");
  assert.equal(later.events.at(-1)?.type, "RunFailed");
});
