import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import lockfile from "proper-lockfile";
import type { Logger } from "../../config/logger.js";
import * as cluster from "./cluster.js";
import {
  commandLine,
  currentProcess,
  isRunning,
  type ProcessIdentity,
  parentPid,
  sameProcess,
} from "./processes.js";

/**
 * One embedded server per data directory, shared by every process using it (API, worker, admin CLI,
 * a second terminal). DATA_DIR/server.json records how to reach it and who uses it; it is read and
 * changed only under DATA_DIR/server.json.lock, so starts racing each other decide one at a time.
 *
 * - The first process starts the server and owns it; later ones attach.
 * - A process leaving stops the server only when no other recorded user still runs.
 * - A server whose owner is gone (killed, crashed) is taken over by the next start: it becomes the
 *   owner and keeps the server (and whoever else is attached) running.
 */
export interface ServerRecord {
  port: number;
  postmasterPid: number;
  owner: ProcessIdentity;
  users: ProcessIdentity[];
}

export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
}

const recordFile = (dataDir: string) => path.join(dataDir, "server.json");

async function readRecord(dataDir: string): Promise<ServerRecord | null> {
  const text = await readFile(recordFile(dataDir), "utf8").catch(() => null);
  if (!text) return null;
  try {
    return JSON.parse(text) as ServerRecord;
  } catch {
    return null;
  }
}

async function writeRecord(dataDir: string, record: ServerRecord | null): Promise<void> {
  if (!record) return rm(recordFile(dataDir), { force: true });
  const temporary = `${recordFile(dataDir)}.${process.pid}`;
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, recordFile(dataDir));
}

async function liveUsers(record: ServerRecord | null, except: ProcessIdentity): Promise<ProcessIdentity[]> {
  const users = record?.users ?? [];
  const running = await Promise.all(
    users.map(async (user) => (await isRunning(user)) && !sameProcess(user, except)),
  );
  return users.filter((_, index) => running[index]);
}

/** Holds the data directory's lock while `action` runs; waits (up to ~2 min) for another holder. */
export async function withDataDirLock<T>(dataDir: string, action: () => Promise<T>): Promise<T> {
  await mkdir(dataDir, { recursive: true });
  // The lock is the directory server.json.lock (mkdir is atomic), refreshed while held.
  const release = await lockfile.lock(recordFile(dataDir), {
    realpath: false,
    stale: 10_000,
    retries: { retries: 1_200, minTimeout: 25, maxTimeout: 100, factor: 1.2 },
  });
  try {
    return await action();
  } finally {
    await release().catch(() => undefined);
  }
}

/**
 * A server running without a record was started by a runstream from before this file existed: it is
 * stopped only when the process that started it (its parent) is gone.
 */
async function stopUnrecordedServer(pgdata: string, pid: number, logger: Logger): Promise<void> {
  const parent = await parentPid(pid);
  if (parent !== null && parent > 1 && (await commandLine(parent)).includes("node")) {
    throw new DataDirInUseError(
      `an older runstream (pid ${parent}) runs the embedded PostgreSQL of this data directory: stop it first`,
    );
  }
  if ((await cluster.postmasterStatus(pgdata)) === "stopping") {
    // Its last user left it writing its shutdown checkpoint: wait for it to end.
    logger.debug({ pid }, "waiting for the embedded PostgreSQL to finish stopping");
  } else {
    logger.warn({ pid }, "stopping an embedded PostgreSQL whose owner is gone (no record of it)");
  }
  await cluster.stop(pgdata);
}

export interface Attachment {
  port: number;
  /** True when this process started the server (or took it over). */
  owner: boolean;
}

/** Attaches to the data directory's server, starting it first when none runs. */
export async function acquireServer(
  dataDir: string,
  pgdata: string,
  choosePort: () => Promise<number>,
  logger: Logger,
): Promise<Attachment> {
  const me = await currentProcess();
  return withDataDirLock(dataDir, async () => {
    const record = await readRecord(dataDir);
    const running = await cluster.postmasterPid(pgdata);
    if (running !== null && record?.postmasterPid === running) {
      const users = [...(await liveUsers(record, me)), me];
      const ownerGone = !(await isRunning(record.owner));
      if (ownerGone) {
        logger.info(
          { previousOwner: record.owner.pid, port: record.port },
          "taking over the embedded PostgreSQL",
        );
      }
      await writeRecord(dataDir, { ...record, owner: ownerGone ? me : record.owner, users });
      return { port: record.port, owner: ownerGone };
    }
    if (running !== null) await stopUnrecordedServer(pgdata, running, logger);
    const port = await choosePort();
    await cluster.start(pgdata, port, logger);
    const postmasterPid = await cluster.postmasterPid(pgdata);
    if (postmasterPid === null) throw new Error("the embedded PostgreSQL exited right after starting");
    await writeRecord(dataDir, { port, postmasterPid, owner: me, users: [me] });
    return { port, owner: true };
  });
}

/** Leaves the server; the last process using it stops it. Returns whether it was stopped. */
export async function releaseServer(dataDir: string, pgdata: string, logger: Logger): Promise<boolean> {
  const me = await currentProcess();
  return withDataDirLock(dataDir, async () => {
    const record = await readRecord(dataDir);
    const others = await liveUsers(record, me);
    if (record && others.length > 0) {
      await writeRecord(dataDir, { ...record, users: others });
      logger.debug(
        { users: others.map((user) => user.pid) },
        "leaving the embedded PostgreSQL to its other users",
      );
      return false;
    }
    // Up to 500 ms for the shutdown checkpoint, so that Ctrl-C returns within a second; a server
    // still finishing it is waited for by the next start.
    if (record && (await cluster.postmasterPid(pgdata)) === record.postmasterPid)
      await cluster.stop(pgdata, 10_000, 500);
    await writeRecord(dataDir, null);
    return true;
  });
}
