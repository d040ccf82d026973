import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import * as cluster from "../../src/db/embedded/cluster.js";
import { isAlive } from "../../src/db/embedded/processes.js";
import type { ServerRecord } from "../../src/db/embedded/shared-server.js";
import { killAllRunstreamProcesses, spawnRunstream } from "../support/runstream-process.js";

/**
 * The default path a newcomer takes: no DATABASE_URL, no DATA_DIR, a working directory whose ./data
 * holds the embedded server (a temporary directory stands in for the repository's checkout).
 */
const workDirs: string[] = [];

async function newWorkDir(): Promise<{ cwd: string; data: string; pgdata: string }> {
  const cwd = await mkdtemp(path.join(os.tmpdir(), "runstream-first-hour-"));
  workDirs.push(cwd);
  // Like a checkout: readable by others, so the `postgres` user (when tests run as root) reaches data/.
  await chmod(cwd, 0o755);
  return { cwd, data: path.join(cwd, "data"), pgdata: path.join(cwd, "data", "pg") };
}

const readRecord = async (data: string): Promise<ServerRecord> =>
  JSON.parse(await readFile(path.join(data, "server.json"), "utf8")) as ServerRecord;

let nextPort = 4510;
const env = (extra: Record<string, string> = {}) => ({
  NODE_ENV: "development",
  HOST: "127.0.0.1",
  WORKER_POLL_MS: "100",
  ...extra,
});

async function start(cwd: string, args: string[] = [], extra: Record<string, string> = {}) {
  const port = String(nextPort++);
  const proc = await spawnRunstream("src/main.ts", args, { cwd, env: env({ PORT: port, ...extra }) });
  return { proc, url: `http://127.0.0.1:${port}/graphql` };
}

async function admin(
  cwd: string,
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const proc = await spawnRunstream("src/admin/cli.ts", args, { cwd, env: env() });
  const { code } = await proc.exited;
  return { code, out: proc.stdout(), err: proc.stderr() };
}

async function graphql(url: string, token: string, query: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as Record<string, unknown>;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The last process leaving stops the server; it may still be writing its checkpoint for a moment. */
const stopped = (pid: number | null) =>
  waitFor("the server to stop", async () => (pid !== null && isAlive(pid) ? undefined : true), 10_000);

const START_RUN = `mutation { startRun(pipeline: "autofix", input: {files: [{path: "a.js", content: "var x = 1;  "}]}) { id status } }`;
const runStatus = (id: string) => `{ run(id: "${id}") { status } }`;

async function stopEverything(): Promise<void> {
  await killAllRunstreamProcesses();
  // A server left behind by a killed process must not outlive the test.
  for (const dir of workDirs) await cluster.stop(path.join(dir, "data", "pg"), 5_000).catch(() => undefined);
}

afterEach(stopEverything);
afterAll(async () => {
  await stopEverything();
  for (const dir of workDirs) await rm(dir, { recursive: true, force: true });
});

describe("one embedded PostgreSQL per data directory, shared by every process", { timeout: 180_000 }, () => {
  it("the admin CLI and a worker beside `npm start` attach to its server and leave it running", async () => {
    const { cwd, data, pgdata } = await newWorkDir();
    const api = await start(cwd);
    await api.proc.waitForLog("runstream started");
    expect(api.proc.stdout()).toMatch(/API token \(admin, workspace "default"\), shown only once/);
    const token = (await readFile(path.join(data, "admin-token"), "utf8")).trim();
    expect((await stat(path.join(data, "admin-token"))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(data, "pg-password"))).mode & 0o777).toBe(0o600);
    const postmaster = await cluster.postmasterPid(pgdata);
    expect(postmaster).not.toBeNull();

    const list = await admin(cwd, ["projections", "list"]);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(/runs/);
    const created = await admin(cwd, [
      "tokens",
      "create",
      "--workspace",
      "default",
      "--role",
      "viewer",
      "--name",
      "cli",
    ]);
    expect(created.code, created.err).toBe(0);

    const worker = await start(cwd, ["--worker-only"]);
    await worker.proc.waitForLog("worker started");
    expect((await readRecord(data)).users.map((user) => user.pid).sort()).toEqual(
      [api.proc.pid, worker.proc.pid].sort(),
    );
    expect(await worker.proc.kill("SIGINT")).toEqual({ code: 0, signal: null });

    // Nobody stopped the API's server: same postmaster, and GraphQL still answers.
    expect(await cluster.postmasterPid(pgdata)).toBe(postmaster);
    const answer = await graphql(api.url, token, "{ pipelines { name } }");
    expect(answer).toEqual({ data: { pipelines: [{ name: "autofix" }, { name: "refactor" }] } });
    expect(api.proc.stdout()).not.toMatch(/orphan/);

    // The compiled code runs the pipelines' steps in threads that load their modules by URL, and
    // serves the console from the package's dist/: both broke once in .build/ while tests ran src/.
    const started = (await graphql(api.url, token, START_RUN)) as { data: { startRun: { id: string } } };
    const runId = started.data.startRun.id;
    await waitFor("the run to await a selection", async () => {
      const status = (await graphql(api.url, token, runStatus(runId))) as {
        data: { run: { status: string } };
      };
      return status.data.run.status === "AWAITING_INPUT" ? true : undefined;
    });
    const consolePage = await fetch(api.url.replace("/graphql", "/console/"));
    expect(consolePage.status).toBe(200);
    expect(await consolePage.text()).toMatch(/<script type="module" src="/);

    // The last process leaving stops the server and removes the record.
    expect(await api.proc.kill("SIGINT")).toEqual({ code: 0, signal: null });
    await stopped(postmaster);
    expect(existsSync(path.join(data, "server.json"))).toBe(false);
  });

  it("an owner killed with -9 leaves the server to its attached worker; the next start takes over", async () => {
    const { cwd, data, pgdata } = await newWorkDir();
    const owner = await start(cwd, ["--no-worker"]);
    await owner.proc.waitForLog("runstream started");
    const token = (await readFile(path.join(data, "admin-token"), "utf8")).trim();
    const worker = await start(cwd, ["--worker-only"]);
    await worker.proc.waitForLog("worker started");
    const postmaster = await cluster.postmasterPid(pgdata);

    await owner.proc.kill("SIGKILL");
    expect(postmaster !== null && isAlive(postmaster)).toBe(true);

    const next = await start(cwd, ["--no-worker"]);
    await next.proc.waitForLog("runstream started");
    expect(next.proc.logs.some((line) => line.msg === "taking over the embedded PostgreSQL")).toBe(true);
    expect(await cluster.postmasterPid(pgdata)).toBe(postmaster);
    expect((await readRecord(data)).owner.pid).toBe(next.proc.pid);

    // The worker kept its database: it executes a run started through the new API.
    const started = (await graphql(next.url, token, START_RUN)) as { data: { startRun: { id: string } } };
    const id = started.data.startRun.id;
    const status = await waitFor("the worker to execute the run", async () => {
      const answer = (await graphql(next.url, token, runStatus(id))) as { data: { run: { status: string } } };
      return answer.data.run.status === "PENDING" ? undefined : answer.data.run.status;
    });
    expect(["RUNNING", "AWAITING_INPUT", "SUCCEEDED"]).toContain(status);

    expect((await next.proc.kill("SIGINT")).code).toBe(0);
    expect(postmaster !== null && isAlive(postmaster)).toBe(true);
    expect((await worker.proc.kill("SIGINT")).code).toBe(0);
    await stopped(postmaster);
  });

  it("two first starts racing initialise once and share one server", async () => {
    const { cwd, data, pgdata } = await newWorkDir();
    const [a, b] = await Promise.all([start(cwd), start(cwd)]);
    await Promise.all([a.proc.waitForLog("runstream started"), b.proc.waitForLog("runstream started")]);
    const initialised = [a, b].filter(({ proc }) =>
      proc.logs.some((line) => line.msg === "initialising embedded PostgreSQL"),
    );
    expect(initialised).toHaveLength(1);
    const record = await readRecord(data);
    expect(record.postmasterPid).toBe(await cluster.postmasterPid(pgdata));
    expect(record.users.map((user) => user.pid).sort()).toEqual([a.proc.pid, b.proc.pid].sort());
    const tokens = [a, b].filter(({ proc }) => /shown only once/.test(proc.stdout()));
    expect(tokens, "one admin token is created, by one of them").toHaveLength(1);
    expect((await a.proc.kill("SIGINT")).code).toBe(0);
    expect((await b.proc.kill("SIGINT")).code).toBe(0);
    await stopped(record.postmasterPid);
  });

  it("a data directory from before: the fixed password is replaced and an orphan with a dead owner is stopped", async () => {
    const { cwd, data, pgdata } = await newWorkDir();
    const first = await start(cwd, ["--no-worker"]);
    await first.proc.waitForLog("runstream started");
    const previous = await cluster.postmasterPid(pgdata);
    await first.proc.kill("SIGINT");
    await stopped(previous);
    // Make it look like the old layout: the password written in the source, no password file.
    const port = 4590;
    await cluster.start(pgdata, port, (await import("../../src/config/logger.js")).createLogger("silent"));
    const password = (await readFile(path.join(data, "pg-password"), "utf8")).trim();
    const pg = (await import("pg")).default;
    const client = new pg.Client({
      connectionString: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    });
    await client.connect();
    await client.query("ALTER ROLE postgres PASSWORD 'runstream-embedded'");
    await client.end();
    await rm(path.join(data, "pg-password"));
    const orphan = await cluster.postmasterPid(pgdata);

    const next = await start(cwd, ["--no-worker"]);
    await next.proc.waitForLog("runstream started");
    expect(next.proc.logs.map((line) => line.msg)).toContain(
      "stopping an embedded PostgreSQL whose owner is gone (no record of it)",
    );
    expect(orphan !== null && isAlive(orphan)).toBe(false);
    const fresh = (await readFile(path.join(data, "pg-password"), "utf8")).trim();
    expect(fresh).not.toBe("runstream-embedded");
    const legacy = new pg.Client({
      connectionString: `postgres://postgres:runstream-embedded@127.0.0.1:${(await readRecord(data)).port}/postgres`,
    });
    await expect(legacy.connect()).rejects.toMatchObject({ code: "28P01" });
    await legacy.end().catch(() => undefined);
  });
});
