import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, test } from "vitest";
import type { AppContext } from "../../src/app/app-context.js";
import { runStreamName } from "../../src/runs/events.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { spawnWorker, stopAllWorkers } from "./processes.js";
import { openTestContext, startRun } from "./support.js";

const RUNS = 100;
const WORKERS = 3;

let db: TestDatabase;
let ctx: AppContext;

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await openTestContext(db.url);
});
afterAll(async () => {
  await stopAllWorkers();
  await ctx?.close();
  await db?.drop();
});

test(`${WORKERS} worker processes share ${RUNS} runs; every step attempt is executed exactly once`, async () => {
  const env = { LEASE_MS: "5000", HEARTBEAT_MS: "500", WORKER_POLL_MS: "200", WORKER_CONCURRENCY: "4" };
  const workers = Array.from({ length: WORKERS }, () => spawnWorker(db.url, env));
  const ids = await Promise.all(workers.map((worker) => worker.ready));
  const started = Date.now();
  const runIds: string[] = [];
  for (let index = 0; index < RUNS; index++) {
    // No `var`: no alternatives, so each run goes through without a person.
    const files = [
      { path: `src/file${index}.ts`, content: `export const n${index} = ${index};  \n// TODO: ${index}` },
    ];
    runIds.push(await startRun(ctx.store, ctx.pipelines, "autofix", { files }));
  }

  const deadline = Date.now() + 55_000;
  let completed = 0;
  while (completed < RUNS) {
    completed = await ctx.prisma.run.count({ where: { status: "COMPLETED" } });
    if (Date.now() > deadline) assert.fail(`only ${completed} of ${RUNS} runs completed`);
    await sleep(200);
  }
  const elapsedMs = Date.now() - started;

  const events = (
    await Promise.all(runIds.map((runId) => ctx.store.readStream(runStreamName(runId))))
  ).flat();
  const attempts = new Map<string, number>();
  const claimsByWorker = new Map<string, number>();
  for (const event of events) {
    if (event.type === "StepStarted") {
      const key = `${event.streamName}/${event.data.stepId}/${event.data.attempt}`;
      attempts.set(key, (attempts.get(key) ?? 0) + 1);
    }
    if (event.type === "RunClaimed") {
      assert.equal(event.data.takeover, false, "no takeover among healthy workers");
      const worker = String(event.data.workerId);
      claimsByWorker.set(worker, (claimsByWorker.get(worker) ?? 0) + 1);
    }
  }
  assert.equal(attempts.size, RUNS * 4, "every step of every run started");
  assert.deepEqual(
    [...attempts].filter(([, count]) => count !== 1),
    [],
    "no step attempt started twice",
  );
  assert.equal(
    [...claimsByWorker.values()].reduce((sum, count) => sum + count, 0),
    RUNS,
    "one claim per run",
  );
  assert.deepEqual([...claimsByWorker.keys()].sort(), [...ids].sort(), "every worker took a share");
  const outputs = await ctx.prisma.step.findMany({ where: { id: "apply" }, select: { output: true } });
  assert.ok(outputs.every((step) => (step.output as { changedFiles: number }).changedFiles === 1));
  console.log(
    `# ${RUNS} runs on ${WORKERS} workers in ${elapsedMs} ms; claims per worker: ${[...claimsByWorker.values()].join(", ")}`,
  );
});
