import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, test } from "vitest";
import type { AppContext } from "../../src/app/app-context.js";
import { createLogger } from "../../src/config/logger.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { migrate } from "../../src/db/migrate.js";
import { type RunningWorker, startWorker } from "../../src/worker/start-worker.js";
import { openTestContext, readRun, startRun, waitForRun } from "./support.js";

/**
 * Item 6 of issue #14: every process of a PostgreSQL server of this test's own stopped (SIGSTOP) for
 * 30 s under running runs, then resumed. The worker that held the runs carries them on, without a
 * restart, within one lease period of the database coming back.
 */

const LEASE_MS = 3_000;
const STALL_MS = 30_000;
const RUNS = 4;

let dataDir: string;
let server: EmbeddedDatabase;
let ctx: AppContext;
let worker: RunningWorker;
let stopped: number[] = [];

function serverProcesses(): number[] {
  const postmaster = Number(readFileSync(path.join(dataDir, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(postmaster)], { encoding: "utf8" })
    .split("\n")
    .map((line) => Number(line.trim()))
    .filter((pid) => pid > 0);
  return [postmaster, ...children];
}

function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // Gone already.
    }
  }
}

beforeAll(async () => {
  await mkdir(path.join(process.cwd(), ".test-data"), { recursive: true });
  dataDir = await mkdtemp(path.join(process.cwd(), ".test-data", "stall-"));
  server = await startEmbeddedPostgres({
    dataDir,
    database: "stall",
    logger: createLogger("silent", "test"),
  });
  await migrate(server.url);
  ctx = await openTestContext(server.url, {
    LEASE_MS: String(LEASE_MS),
    HEARTBEAT_MS: "500",
    WORKER_POLL_MS: "200",
    WORKER_CONCURRENCY: String(RUNS),
    SWEEP_INTERVAL_MS: "1000",
    STALE_AFTER_MS: "600000",
  });
  worker = await startWorker(ctx, { id: "stall-worker" });
}, 120_000);

afterAll(async () => {
  signal(stopped, "SIGCONT");
  await worker?.stop();
  await ctx?.close();
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 120_000);

test("a 30 s database stall under running runs ends with every run completed, without a restart", async () => {
  const runIds: string[] = [];
  for (let index = 0; index < RUNS; index++) {
    runIds.push(
      await startRun(ctx.store, ctx.pipelines, "autofix", {
        files: [{ path: `f${index}.js`, content: "let a = 1;  \n" }],
        delayMs: 3_000,
      }),
    );
  }
  for (const runId of runIds) {
    await waitForRun(ctx.store, runId, (run) => run.steps.some((step) => step.status === "RUNNING"), 30_000);
  }
  stopped = serverProcesses();
  signal(stopped, "SIGSTOP");
  await sleep(STALL_MS);
  signal(stopped, "SIGCONT");
  const resumedAt = Date.now();
  stopped = [];

  const finished = await Promise.all(
    runIds.map((runId) => waitForRun(ctx.store, runId, (run) => run.status === "COMPLETED", 90_000)),
  );
  const completedAfter = Date.now() - resumedAt;
  for (const { run, events } of finished) {
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.workerId === null || run.workerId === "stall-worker", true);
    // Carried on within one lease period: its first event written after the stall.
    const next = events.find((event) => event.occurredAt.getTime() >= resumedAt);
    assert.ok(next, `run ${run.id} wrote nothing after the stall`);
    const after = next.occurredAt.getTime() - resumedAt;
    assert.ok(after <= LEASE_MS, `run ${run.id} carried on ${after} ms after the database came back`);
  }
  const { events } = await readRun(ctx.store, runIds[0] as string);
  console.log(
    `# ${RUNS} runs completed ${completedAfter} ms after a ${STALL_MS} ms stall; events of one: ${events.map((event) => event.type).join(",")}`,
  );
}, 240_000);
