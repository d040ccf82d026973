/**
 * Where a retryStep's time goes: replays the API's path for one mutation phase by phase, in this
 * process, against a fresh database, and prints p50/p99 per phase next to the whole HTTP request.
 * Not a benchmark of its own (nothing in latest.json): the measurements behind bench/FINDINGS.md.
 *
 *   npx tsx bench/support/profile-command.ts [--count 200] [--progress 10]
 *   (DATABASE_URL=... to use a server instead of a throwaway embedded PostgreSQL)
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import pg from "pg";
import { startHttpServer } from "../../src/api/http-server.js";
import { openAppContext } from "../../src/app/app-context.js";
import { createApiToken } from "../../src/auth/token-store.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/config/logger.js";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import type { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";
import { runsProjection } from "../../src/projections/runs/runs-projection.js";
import type { RunCommand } from "../../src/runs/commands.js";
import { runDecider } from "../../src/runs/decider.js";
import { runStreamName } from "../../src/runs/events.js";
import { evolveStored } from "../../src/runs/state.js";
import { newId } from "../../src/shared/ids.js";
import { summarizeLatencies } from "../harness.js";
import { appendFinishedRun } from "./run-histories.js";

const { values } = parseArgs({
  options: { count: { type: "string", default: "200" }, progress: { type: "string", default: "10" } },
});
const count = Number(values.count);
const progress = Number(values.progress);
const logger = createLogger("silent", "profile");

let dataDir: string | null = null;
let stopEmbedded = async () => undefined as unknown;
let adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "runstream-profile-"));
  const embedded = await startEmbeddedPostgres({ dataDir, database: "profile", logger });
  adminUrl = embedded.adminUrl;
  stopEmbedded = () => embedded.stop();
}
const dbName = `profile_${randomUUID().slice(0, 8)}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const url = new URL(adminUrl);
url.pathname = `/${dbName}`;

const config = loadConfig({
  NODE_ENV: "production",
  COMMAND_RATE_PER_SECOND: "100000",
  COMMAND_BURST: "100000",
  LOG_LEVEL: "silent",
  HOST: "127.0.0.1",
  PORT: "0",
  DATABASE_URL: url.toString(),
});
const ctx = await openAppContext(config, logger);
ctx.projections.start();
const { secret } = await createApiToken(ctx.prisma, {
  workspaceId: "default",
  role: "operator",
  name: "profile",
});
const server = await startHttpServer(ctx);
const headers = { "content-type": "application/json", authorization: `Bearer ${secret}` };
const steps = (ctx.pipelines.get("autofix")?.steps ?? []).map(({ id, name }) => ({ id, name }));

const appendRun = (runId: string): Promise<string> => appendFinishedRun(ctx.store, runId, steps, progress);

const phases: Record<string, number[]> = {};
// The wait for the read model, split: when the projection's read of the new event starts (after the
// NOTIFY), how long that read takes, and how long `apply` (inside its transaction) takes.
let appendedAt = 0;
const record = (phase: string, ms: number) => {
  const list = phases[phase] ?? [];
  list.push(ms);
  phases[phase] = list;
};
const store = ctx.store as PostgresEventStore;
const readAll = store.readAll.bind(store);
store.readAll = async (options) => {
  const started = performance.now();
  const events = await readAll(options);
  if (appendedAt > 0 && events.length > 0) {
    record("e1 append resolved -> projection read starts", started - appendedAt);
    record("e2 projection readAll", performance.now() - started);
    appendedAt = 0;
  }
  return events;
};
const apply = runsProjection.apply;
runsProjection.apply = async (...args) => {
  const started = performance.now();
  await apply(...args);
  record("e3 projection apply (in its transaction)", performance.now() - started);
};
const time = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const result = await work();
  const list = phases[phase] ?? [];
  list.push(performance.now() - started);
  phases[phase] = list;
  return result;
};

const runIds = Array.from({ length: Math.ceil(count / steps.length) * 2 }, () => randomUUID());
let last = "";
for (const runId of runIds) last = await appendRun(runId);
await ctx.projections.waitFor(last, 30_000);
const half = runIds.length / 2;
// Last step first: a retried step re-executes the steps after it (see finishedRunHistory).
const targets = [...steps].reverse().flatMap((step) => runIds.map((runId) => ({ runId, stepId: step.id })));
const inProcess = targets.filter((t) => runIds.indexOf(t.runId) < half).slice(0, count);
const overHttp = targets.filter((t) => runIds.indexOf(t.runId) >= half).slice(0, count);

for (const { runId, stepId } of inProcess) {
  const stream = runStreamName(runId);
  await time("1 whole command (in process)", async () => {
    await time("a read first event (run visible?)", () => ctx.store.readStream(stream, { maxCount: 1 }));
    const history = await time("b read whole stream", () => ctx.store.readStream(stream));
    const decided = await time("c fold + decide", async () => {
      const state = evolveStored(runDecider.initialState(), history);
      const command: RunCommand = { type: "RetryStep", runId, stepId, now: new Date().toISOString() };
      return runDecider.decide(command, state);
    });
    const appended = await time("d append (group commit)", () =>
      ctx.store.appendToStream(
        stream,
        decided.map((event) => ({
          id: newId(),
          type: event.type,
          data: event.data as never,
          occurredAt: new Date(),
        })),
        { expectedRevision: history.at(-1)?.revision ?? "no_stream" },
      ),
    );
    appendedAt = performance.now();
    await time("e wait for read model", () => ctx.projections.waitFor(appended.position, 5_000));
    await time("f load run (Prisma)", () =>
      ctx.prisma.run.findFirst({
        where: { id: runId, workspaceId: "default" },
        select: {
          id: true,
          status: true,
          revision: true,
          steps: { select: { id: true, status: true, attempt: true } },
        },
      }),
    );
  });
  await sleep(20);
}

const RETRY = `mutation($runId: ID!, $stepId: ID!) {
  retryStep(runId: $runId, stepId: $stepId) { id status revision steps { id status attempt } }
}`;
for (const variables of overHttp) {
  await time("2 whole retryStep over HTTP (same process)", async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query: RETRY, variables }),
    });
    const body = (await response.json()) as { errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
  });
  await time("3 trivial query over HTTP", async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query: "{ pipelines { name } }" }),
    });
    await response.json();
  });
  await sleep(20);
}

console.log(
  `${count} retries, ${3 + steps.length * (progress + 2)} events per stream before the first retry`,
);
console.log("phase                                         p50 ms   p90 ms   p99 ms   mean ms");
for (const [phase, list] of Object.entries(phases).sort(([a], [b]) => a.localeCompare(b))) {
  const s = summarizeLatencies(list);
  console.log(
    `${phase.padEnd(44)} ${[s.p50, s.p90, s.p99, s.mean].map((v) => v.toFixed(2).padStart(8)).join(" ")}`,
  );
}

await server.close();
await ctx.close();
await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
await admin.end();
await stopEmbedded();
if (dataDir) await rm(dataDir, { recursive: true, force: true });
