import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, describe, test } from "vitest";

const CHILD = fileURLToPath(new URL("./embedded-child.ts", import.meta.url));
const children = new Set<ChildProcess>();
let dataDir: string;

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const lockFile = () => path.join(dataDir, "pg", "postmaster.pid");
const postmasterPid = async (): Promise<number> =>
  Number.parseInt((await readFile(lockFile(), "utf8")).split("\n")[0] ?? "", 10);

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts the server from a child process; resolves with its URL once it is up. */
function startChild(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`embedded server did not start: ${stderr}`)), 60_000);
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
      const line = stdout.split("\n").find((candidate) => candidate.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve({ child, url: (JSON.parse(line) as { url: string }).url });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited with ${code} before the server was up: ${stderr}`));
    });
  });
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  // A server this test orphaned and did not get restarted must not outlive it.
  if (dataDir && existsSync(lockFile())) {
    const pid = await postmasterPid().catch(() => Number.NaN);
    if (Number.isInteger(pid) && isAlive(pid)) {
      process.kill(pid, "SIGINT");
      await waitUntil(() => !isAlive(pid), 15_000, "the orphaned server to stop").catch(() =>
        process.kill(pid, "SIGKILL"),
      );
    }
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("embedded PostgreSQL across process deaths", { timeout: 120_000 }, () => {
  test("a server orphaned by a killed process is taken over, data intact", async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "runstream-embedded-"));
    const first = await startChild();
    await query(first.url, "CREATE TABLE kept (value text); INSERT INTO kept VALUES ('before the crash')");
    const orphan = await postmasterPid();

    first.child.kill("SIGKILL");
    await waitUntil(
      () => first.child.exitCode !== null || first.child.signalCode !== null,
      5_000,
      "the child to die",
    );
    assert.ok(isAlive(orphan), "postgres outlives its killed parent");
    assert.ok(existsSync(lockFile()), "and keeps its postmaster.pid");

    // Its owner is provably gone (server.json names a process no longer running): the next start
    // takes the server over as it is, without a restart (see test/db/shared-embedded.e2e.test.ts).
    const second = await startChild();
    assert.ok(isAlive(orphan), "the orphan was taken over, not restarted");
    const restarted = await postmasterPid();
    assert.equal(restarted, orphan);
    const rows = await query<{ value: string }>(second.url, "SELECT value FROM kept");
    assert.deepEqual(rows, [{ value: "before the crash" }]);

    await stopChild(second.child);
    await waitUntil(() => !isAlive(restarted), 10_000, "the server to stop with its last user's SIGTERM");
    assert.ok(!existsSync(lockFile()), "a clean stop removes postmaster.pid");
  });

  test("a postmaster.pid naming a dead process, or an unrelated live one, is removed", async () => {
    assert.ok(dataDir, "runs after the first test, on its data dir");
    const exited = spawn("true");
    const deadPid = await new Promise<number>((resolve) =>
      exited.on("exit", () => resolve(exited.pid as number)),
    );
    const sleeper = spawn("sleep", ["60"]);
    children.add(sleeper);
    for (const stalePid of [deadPid, sleeper.pid as number]) {
      await writeFile(
        lockFile(),
        `${stalePid}\n${path.join(dataDir, "pg")}\n0\n5432\n/tmp\n127.0.0.1\n0 0\nready\n`,
      );
      const { child, url } = await startChild();
      const rows = await query<{ value: string }>(url, "SELECT value FROM kept");
      assert.equal(rows.length, 1, `server up with its data despite a lock file naming pid ${stalePid}`);
      assert.notEqual(await postmasterPid(), stalePid);
      await stopChild(child);
    }
    assert.ok(isAlive(sleeper.pid as number), "the unrelated process was left alone");
    sleeper.kill("SIGKILL");
  });
});
