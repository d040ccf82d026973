import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, test } from "vitest";
import type { AppContext } from "../../src/app/app-context.js";
import type { StoredEvent } from "../../src/event-store/event-store.js";
import { readCheckpoints } from "../../src/projections/checkpoints.js";
import { type RunningWorker, startWorker } from "../../src/worker/start-worker.js";
import { TEST_PIPELINE } from "../support/app.js";
import { createTestDatabase, serverUrl, type TestDatabase } from "../support/database.js";
import { openTestContext, startRun, waitForRun } from "../worker/support.js";

/**
 * Backup and restore into another server, as an operator does it: pg_dump of a store written on the
 * machine's PostgreSQL, whose transaction counter is far ahead, pg_restore into a fresh cluster
 * (initdb), and the application started on the copy.
 */
const BIN = "/usr/lib/postgresql/15/bin";
const TOOLS = ["initdb", "pg_ctl", "pg_dump", "pg_restore"].map((tool) => path.join(BIN, tool));
const missing = TOOLS.filter((tool) => !existsSync(tool));
const source = serverUrl();
const skipReason =
  missing.length > 0
    ? `PostgreSQL 15 tools missing: ${missing.join(", ")}`
    : source === null
      ? "no PostgreSQL server reachable to dump from (the embedded one is version 18, newer than pg_dump 15)"
      : null;

const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;

/** initdb and postgres refuse to run as root: run them as the postgres user then. */
function runAsPostgres(command: string, args: string[]) {
  if (!asRoot) return run(command, args);
  const quoted = [command, ...args].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`).join(" ");
  return run("su", ["postgres", "-c", quoted]);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

interface FreshCluster {
  adminUrl: string;
  stop(): Promise<void>;
}

async function startFreshCluster(): Promise<FreshCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), "rs-restore-"));
  await chmod(dir, 0o755);
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const uid = Number(stdout.trim());
    await chown(dir, uid, uid);
  }
  const data = path.join(dir, "data");
  const port = await freePort();
  await runAsPostgres(path.join(BIN, "initdb"), ["-A", "trust", "-U", "postgres", "-D", data]);
  await runAsPostgres(path.join(BIN, "pg_ctl"), [
    "-D",
    data,
    "-l",
    path.join(dir, "log"),
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    "-w",
    "start",
  ]);
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await runAsPostgres(path.join(BIN, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]).catch(
        () => undefined,
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function currentXid(url: string): Promise<bigint> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ xid: string }>("SELECT pg_current_xact_id()::text AS xid");
    return BigInt(rows[0]?.xid ?? 0);
  } finally {
    await client.end();
  }
}

/** pg_dump -Fc of `from` piped into pg_restore on `to`, as an operator moves a database. */
async function dumpAndRestore(from: string, to: string): Promise<void> {
  const dump = spawn(path.join(BIN, "pg_dump"), ["-Fc", "-d", from], { stdio: ["ignore", "pipe", "pipe"] });
  const restore = spawn(path.join(BIN, "pg_restore"), ["--no-owner", "--exit-on-error", "-d", to], {
    stdio: ["pipe", "ignore", "pipe"],
  });
  dump.stdout.pipe(restore.stdin);
  let errors = "";
  dump.stderr.on("data", (chunk) => (errors += chunk));
  restore.stderr.on("data", (chunk) => (errors += chunk));
  const exit = (child: typeof dump | typeof restore) =>
    new Promise<number | null>((resolve) => child.on("exit", resolve));
  const [dumped, restored] = await Promise.all([exit(dump), exit(restore)]);
  assert.equal(dumped, 0, `pg_dump: ${errors}`);
  assert.equal(restored, 0, `pg_restore: ${errors}`);
}

async function readEverything(ctx: AppContext): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (;;) {
    const page = await ctx.store.readAll({ after: events.at(-1)?.position ?? null, maxCount: 500 });
    if (page.length === 0) return events;
    events.push(...page);
  }
}

async function runToCompletion(ctx: AppContext): Promise<StoredEvent[]> {
  const runId = await startRun(ctx.store, ctx.pipelines, TEST_PIPELINE.name, { repo: "r" });
  const { run, events } = await waitForRun(ctx.store, runId, (state) => state.status === "COMPLETED", 30_000);
  await ctx.projections.waitFor(events.at(-1)?.position as string, 10_000);
  const row = await ctx.prisma.run.findUnique({ where: { id: run.id } });
  assert.equal(row?.status, "COMPLETED", "projected");
  return events;
}

describe.skipIf(skipReason !== null)(
  `logical restore into a fresh cluster${skipReason ? ` (skipped: ${skipReason})` : ""}`,
  () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    });

    const open = async (url: string): Promise<{ ctx: AppContext; worker: RunningWorker }> => {
      const ctx = await openTestContext(url, {}, [TEST_PIPELINE]);
      const worker = await startWorker(ctx, { sweeper: false });
      cleanups.push(
        () => ctx.close(),
        () => worker.stop(),
      );
      return { ctx, worker };
    };

    test("every event replays, checkpoints hold, new runs run, new events come after the old", async () => {
      const db: TestDatabase = await createTestDatabase(source as string);
      cleanups.push(() => db.drop());
      const before = await open(db.url);
      for (let index = 0; index < 3; index++) await runToCompletion(before.ctx);
      // Push the server's transaction counter far past where any fresh cluster starts, then write more.
      await db.pool.query("SET synchronous_commit = off");
      await db.pool.query(
        "DO $$ BEGIN FOR i IN 1..3000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$",
      );
      for (let index = 0; index < 2; index++) await runToCompletion(before.ctx);
      const stored = await readEverything(before.ctx);
      const checkpoints = await readCheckpoints(before.ctx.prisma);
      await before.worker.stop();
      await before.ctx.close();

      const cluster = await startFreshCluster();
      cleanups.push(() => cluster.stop());
      const admin = new pg.Client({ connectionString: cluster.adminUrl });
      await admin.connect();
      await admin.query("CREATE DATABASE restored");
      await admin.end();
      const restoredUrl = cluster.adminUrl.replace(/\/postgres$/, "/restored");
      const sourceXid = await currentXid(db.url);
      const freshXid = await currentXid(restoredUrl);
      assert.ok(sourceXid > freshXid + 3_000n, `source xid ${sourceXid} far past the fresh ${freshXid}`);
      await dumpAndRestore(db.url, restoredUrl);

      const after = await open(restoredUrl);
      const replayed = await readEverything(after.ctx);
      assert.equal(replayed.length, stored.length, "global replay returns every event");
      assert.deepEqual(
        replayed.map((event) => [event.id, event.position]),
        stored.map((event) => [event.id, event.position]),
      );
      assert.deepEqual(await readCheckpoints(after.ctx.prisma), checkpoints, "checkpoints as they were");
      const status = await after.ctx.projections.status();
      assert.deepEqual(
        status.map((projection) => projection.lag),
        status.map(() => 0),
        "read models caught up, and nothing is replayed twice",
      );

      const fresh = await runToCompletion(after.ctx);
      const lastOld = stored.at(-1)?.position as string;
      assert.ok(
        fresh.every((event) => event.position > lastOld),
        "new events come after the old ones",
      );
      const tail = await after.ctx.store.readAll({ after: lastOld });
      assert.deepEqual(
        tail.map((event) => event.id),
        fresh.map((event) => event.id),
      );
    }, 120_000);
  },
);
