/**
 * End-to-end latency of `retryStep` mutations through real HTTP: the API runs in this process (the
 * AppContext `npm run serve` builds, projections following), the load comes from a child process at
 * a steady rate, and each mutation answers only after the read model includes its own event
 * (read-your-writes). Baselines in the same run, at the same rate, over the same HTTP path: a
 * trivial GraphQL query `{ pipelines { name } }`; and one plain `pg` INSERT round trip.
 *
 * Params (`--param command-latency.<key>=<value>`): rates (default "20,50" per second), seconds
 * (per phase, default 8 x scale), progress (ReportProgress events per step in each run's history,
 * default 10: the handler reads and folds the whole stream).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startHttpServer } from "../src/api/http-server.js";
import { type AppContext, openAppContext } from "../src/app/app-context.js";
import { createApiToken } from "../src/auth/token-store.js";
import { loadConfig } from "../src/config/config.js";
import { createLogger } from "../src/config/logger.js";
import {
  type Bench,
  type BenchEnv,
  type BenchFigure,
  figure,
  type LatencySummary,
  numberParam,
  param,
  summarizeLatencies,
} from "./harness.js";
import { appendFinishedRun } from "./support/run-histories.js";
import type { LoadRequest, LoadResult, LoadSpec } from "./support/steady-load.js";

const NAME = "command-latency";
const LOAD_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "support", "steady-load.ts");

const RETRY = `mutation($runId: ID!, $stepId: ID!) {
  retryStep(runId: $runId, stepId: $stepId) { id status revision steps { id status attempt } }
}`;
const TRIVIAL = "{ pipelines { name } }";

/** Appends `runs` finished runs (a few at a time) and waits until the read model has them all. */
async function prepareRuns(ctx: AppContext, runs: number, progress: number): Promise<string[]> {
  const pipeline = ctx.pipelines.get("autofix") ?? ctx.pipelines.list()[0];
  if (!pipeline) throw new Error("no pipeline registered");
  const steps = pipeline.steps.map(({ id, name }) => ({ id, name }));
  const runIds = Array.from({ length: runs }, () => randomUUID());
  let last = "";
  for (let from = 0; from < runIds.length; from += 8) {
    const positions = await Promise.all(
      runIds.slice(from, from + 8).map((runId) => appendFinishedRun(ctx.store, runId, steps, progress)),
    );
    for (const position of positions) if (position > last) last = position;
  }
  await ctx.projections.waitFor(last, 60_000);
  return runIds;
}

function runChild(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", LOAD_SCRIPT], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch (error) {
        reject(error);
      }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

/** Sequential INSERT round trips at the same steady rate, from this process: the floor of any write. */
async function insertRoundTrips(ctx: AppContext, rate: number, count: number): Promise<LatencySummary> {
  await ctx.db.pool.query(
    "CREATE TABLE IF NOT EXISTS bench_plain (id uuid PRIMARY KEY, data jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())",
  );
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1_000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    await ctx.db.pool.query("INSERT INTO bench_plain (id, data) VALUES ($1, $2)", [
      randomUUID(),
      JSON.stringify({ stepId: "apply", attempt: 2 }),
    ]);
    latencies.push(performance.now() - sent);
  }
  return summarizeLatencies(latencies);
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

async function run(env: BenchEnv): Promise<BenchFigure[]> {
  const rates = param(env, NAME, "rates", "20,50")
    .split(",")
    .map((rate) => Number(rate.trim()));
  if (rates.some((rate) => !(rate > 0))) throw new Error(`--param ${NAME}.rates must be positive numbers`);
  const seconds = numberParam(env, NAME, "seconds", 8 * env.flags.scale);
  const progress = Math.round(numberParam(env, NAME, "progress", 10));
  const db = await env.createDatabase({ poolSize: 4 });
  const config = loadConfig({
    NODE_ENV: "production",
    LOG_LEVEL: "silent",
    HOST: "127.0.0.1",
    PORT: "0",
    RUN_WORKER: "false",
    DATABASE_URL: db.url,
    // One token carries the whole load here, where many clients would share it in production: its
    // command bucket (20/s by default) would turn the 50/s phase into a rate-limit test.
    COMMAND_RATE_PER_SECOND: "100000",
    COMMAND_BURST: "100000",
  });
  const ctx = await openAppContext(config, createLogger("silent", "bench"));
  ctx.projections.start();
  // Before the server starts: in production a server without any token refuses to start.
  const { secret } = await createApiToken(ctx.prisma, {
    workspaceId: "default",
    role: "operator",
    name: "bench",
  });
  const server = await startHttpServer(ctx, { closeGraceMs: 500 });
  const url = `http://127.0.0.1:${server.port}/graphql`;
  const headers = { authorization: `Bearer ${secret}` };
  const figures: BenchFigure[] = [];
  try {
    const stepIds = (ctx.pipelines.get("autofix") ?? ctx.pipelines.list()[0])?.steps.map((s) => s.id) ?? [];
    const perRate = rates.map((rate) => Math.max(20, Math.round(rate * seconds)));
    const runsNeeded = Math.ceil((perRate.reduce((a, b) => a + b, 0) + 20) / stepIds.length);
    const preparing = performance.now();
    const runIds = await prepareRuns(ctx, runsNeeded, progress);
    env.log(
      `prepared ${runsNeeded} finished runs of ${stepIds.length} steps (${progress} progress events per step) in ${Math.round(performance.now() - preparing)} ms`,
    );
    // Every (run, step) once, steps in order, runs round robin: one run is hit again only much later.
    // Last step first: a retried step re-executes the steps after it (see finishedRunHistory).
    const targets = [...stepIds].reverse().flatMap((stepId) => runIds.map((runId) => ({ runId, stepId })));
    const take = (count: number): LoadRequest[] =>
      targets.splice(0, count).map((variables) => ({ query: RETRY, variables }));
    // Warm-up: JIT, connection pools, prepared plans; not counted.
    await runChild({ url, headers, rate: 10, requests: take(20), timeoutMs: 10_000 });
    await runChild({
      url,
      headers,
      rate: 10,
      requests: Array.from({ length: 20 }, () => ({ query: TRIVIAL })),
      timeoutMs: 10_000,
    });
    const insert = await insertRoundTrips(ctx, 50, 100);
    env.log(`plain pg INSERT round trip: p50 ${ms(insert.p50)}, p99 ${ms(insert.p99)}`);

    for (const [index, rate] of rates.entries()) {
      const count = perRate[index] as number;
      const bar = env.progress(`retryStep and baseline at ${rate}/s`, 2);
      const baselineResult = await runChild({
        url,
        headers,
        rate,
        requests: Array.from({ length: count }, () => ({ query: TRIVIAL })),
        timeoutMs: 30_000,
      });
      bar.update(1);
      const retryResult = await runChild({ url, headers, rate, requests: take(count), timeoutMs: 30_000 });
      bar.stop();
      const baseline = summarizeLatencies(baselineResult.latenciesMs);
      const retry = summarizeLatencies(retryResult.latenciesMs);
      env.log(
        `${rate}/s: retryStep p50 ${ms(retry.p50)} p99 ${ms(retry.p99)} max ${ms(retry.max)} (${retry.count} ok, ${retryResult.errors} errors, send lag ${ms(retryResult.meanSendLagMs)}); trivial query p50 ${ms(baseline.p50)} p99 ${ms(baseline.p99)} (${baselineResult.errors} errors)`,
      );
      for (const sample of [...retryResult.errorSamples, ...baselineResult.errorSamples]) {
        env.log(`  error: ${sample}`);
      }
      const detail = {
        rate,
        requests: count,
        ok: retry.count,
        errors: retryResult.errors,
        baselineErrors: baselineResult.errors,
        maxMs: Math.round(retry.max * 10) / 10,
        streamEvents: 3 + stepIds.length * (progress + 2),
      };
      for (const percentile of ["p50", "p99"] as const) {
        figures.push(
          figure({
            bench: NAME,
            name: `retryStep ${percentile} at ${rate}/s`,
            value: retry[percentile],
            unit: "ms",
            baseline: { name: `{ pipelines { name } } ${percentile}`, value: baseline[percentile] },
            detail: { ...detail, percentile },
          }),
        );
      }
      figures.push(
        figure({
          bench: NAME,
          name: `retryStep p50 at ${rate}/s, in INSERT round trips`,
          value: retry.p50,
          unit: "ms",
          baseline: { name: "plain pg INSERT p50", value: insert.p50 },
          detail: { rate, insertP99Ms: Math.round(insert.p99 * 100) / 100 },
        }),
      );
      if (retryResult.errors > 0) throw new Error(`${retryResult.errors} retryStep mutations failed`);
    }
  } finally {
    await server.close();
    await ctx.close();
    await db.drop();
  }
  return figures;
}

const bench: Bench = { name: NAME, run };
export default bench;
