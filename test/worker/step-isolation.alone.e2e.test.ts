import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, test } from "vitest";
import { defaultPipelines } from "../../src/pipelines/default-pipelines.js";
import { type RunningWorker, startWorker } from "../../src/worker/start-worker.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { crashingPipeline } from "./fixtures/crashing-pipeline.js";
import { eventsOf, startRun, waitForRun } from "./support.js";

/**
 * Steps run in worker threads: the API and worker of one process (as `npm start` runs them) keep
 * answering while a step parses a ~1 MB file, a step over its budget is stopped and fails, and a
 * step that keeps killing its executor fails the run with a reason that says so.
 */

let app: TestApp;
let worker: RunningWorker;

beforeAll(async () => {
  app = await startTestApp({
    env: { LEASE_MS: "5000", HEARTBEAT_MS: "500", WORKER_POLL_MS: "200", WORKER_CONCURRENCY: "2" },
    pipelines: [...defaultPipelines().list(), crashingPipeline()],
  });
  worker = await startWorker(app.ctx);
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
});

const percentileOf = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

test("a ~1 MB file (70,000 lines of `var a = 1;  `) keeps /healthz under 100 ms p99 while its run executes", async () => {
  const content = "var a = 1;  \n".repeat(70_000);
  // The same probes with nothing running first: what this machine gives anyway (it may be shared).
  const idle = monitorEventLoopDelay({ resolution: 10 });
  idle.enable();
  const idleAnswers: number[] = [];
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await sleep(50)) {
    const started = performance.now();
    await (await fetch(`${app.baseUrl}/healthz`)).arrayBuffer();
    idleAnswers.push(performance.now() - started);
  }
  idle.disable();
  const idleP99 = percentileOf(
    [...idleAnswers].sort((a, b) => a - b),
    99,
  );
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const runId = await startRun(app.ctx.store, app.ctx.pipelines, "autofix", {
    files: [{ path: "big.js", content }],
  });
  delay.enable();
  const answers: number[] = [];
  let done = false;
  const probing = (async () => {
    while (!done) {
      const started = performance.now();
      const response = await fetch(`${app.baseUrl}/healthz`);
      await response.arrayBuffer();
      assert.equal(response.status, 200);
      answers.push(performance.now() - started);
      await sleep(50);
    }
  })();
  try {
    const { run, events } = await waitForRun(
      app.ctx.store,
      runId,
      (current) => current.status === "COMPLETED" || current.status === "FAILED",
      170_000,
    );
    assert.equal(run.status, "COMPLETED", run.error ?? "");
    // The redeclared `a` cannot become let/const, so only trailing spaces are fixed: those of the
    // issues the analyze step's output kept (it is cut to MAX_STEP_OUTPUT_BYTES; apply patches what
    // it lists).
    const applied = eventsOf(events, "StepCompleted").find((event) => event.data.stepId === "apply");
    const output = applied?.data.output as { applied: number; files: { content: string | null }[] };
    assert.ok(output.applied > 1_000, `${output.applied} fixes applied`);
    assert.ok(output.files[0]?.content?.startsWith("var a = 1;\nvar a = 1;\n"));
  } finally {
    done = true;
    await probing;
    delay.disable();
  }
  const sorted = [...answers].sort((a, b) => a - b);
  const p99 = percentileOf(sorted, 99);
  const loopP99 = delay.percentile(99) / 1e6;
  console.log(
    `# idle baseline: /healthz p99 ${idleP99.toFixed(1)} ms, event-loop delay p99 ${(idle.percentile(99) / 1e6).toFixed(1)} ms`,
  );
  console.log(
    `# /healthz: ${answers.length} probes, p50 ${percentileOf(sorted, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms; event-loop delay p99 ${loopP99.toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
  );
  assert.ok(answers.length > 20, "probed all along the run");
  // Before steps ran in threads, /healthz gave no answer at all for minutes: never again.
  assert.ok((sorted.at(-1) ?? 0) < 5_000, `slowest /healthz answer ${sorted.at(-1)} ms`);
  // The 100 ms p99 bound is checkable only where the machine alone (same probes, nothing running)
  // meets it; a machine shared with other work shows its own delays, and the check says so.
  const idleLoopP99 = idle.percentile(99) / 1e6;
  if (idleP99 >= 100 || idleLoopP99 >= 100) {
    console.log(
      `# machine too busy to check the 100 ms bound: idle /healthz p99 ${idleP99.toFixed(1)} ms, loop p99 ${idleLoopP99.toFixed(1)} ms`,
    );
    return;
  }
  assert.ok(p99 < 100, `/healthz p99 ${p99.toFixed(1)} ms`);
  assert.ok(loopP99 < 100, `event-loop delay p99 ${loopP99.toFixed(1)} ms`);
}, 200_000);

test("a step over its time budget is stopped and fails, and the failure is an attempt", async () => {
  const pipeline = app.ctx.pipelines.get("autofix");
  assert.ok(pipeline);
  pipeline.stepTimeoutMs = 1_000;
  try {
    const runId = await startRun(app.ctx.store, app.ctx.pipelines, "autofix", {
      files: [{ path: "a.js", content: "var a = 1;\n" }],
      delayMs: 10_000,
    });
    const { run, events } = await waitForRun(
      app.ctx.store,
      runId,
      (current) => current.status === "FAILED",
      20_000,
    );
    const failed = eventsOf(events, "StepFailed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.data.stepId, "scan");
    assert.equal(failed[0]?.data.attempt, 1);
    assert.match(
      String(failed[0]?.data.error),
      /step scan ran over its time budget of 1000 ms \(STEP_TIMEOUT_MS\) and was stopped/,
    );
    assert.match(run.error ?? "", /time budget/);
    const started = eventsOf(events, "StepStarted").at(-1)?.occurredAt.getTime() ?? 0;
    const stopped = failed[0]?.occurredAt.getTime() ?? 0;
    assert.ok(stopped - started < 5_000, `stopped ${stopped - started} ms after it started`);
  } finally {
    delete pipeline.stepTimeoutMs;
  }
});

test("a step that kills its executor thread on every attempt fails the run with a reason that says so", async () => {
  const runId = await startRun(app.ctx.store, app.ctx.pipelines, "crashing", {});
  const { run, events } = await waitForRun(
    app.ctx.store,
    runId,
    (current) => current.status === "FAILED",
    30_000,
  );
  const failed = eventsOf(events, "StepFailed");
  assert.deepEqual(
    failed.map((event) => [event.data.attempt, event.data.willRetry]),
    [
      [1, true],
      [2, true],
      [3, false],
    ],
  );
  for (const event of failed) {
    assert.match(String(event.data.error), /executor thread exited with code 3 before the step finished/);
  }
  assert.match(run.error ?? "", /executor thread exited with code 3/);
  // The worker itself lives on and takes new runs.
  const next = await startRun(app.ctx.store, app.ctx.pipelines, "autofix", {
    files: [{ path: "b.js", content: "let b = 1;\n" }],
  });
  await waitForRun(app.ctx.store, next, (current) => current.status === "COMPLETED", 30_000);
});
