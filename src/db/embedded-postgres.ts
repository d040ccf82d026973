import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import pg from "pg";
import type { Logger } from "../config/logger.js";
import * as cluster from "./embedded/cluster.js";
import { ensurePassword, migrateLegacyPassword, urlFor } from "./embedded/password.js";
import { acquireServer, releaseServer, withDataDirLock } from "./embedded/shared-server.js";

export interface EmbeddedDatabase {
  /** Connection string of the application database on the embedded server. */
  url: string;
  /** Connection string of the server's maintenance database (`postgres`). */
  adminUrl: string;
  port: number;
  /** True when this process started the server (or took it over from an owner that is gone). */
  owner: boolean;
  /** Leaves the server; the last process using it stops it. */
  stop(): Promise<void>;
}

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

export interface EmbeddedOptions {
  dataDir: string;
  database: string;
  logger: Logger;
  port?: number;
}

/**
 * The embedded PostgreSQL whose files live in `dataDir/pg`: started (initialised on first use) when
 * none runs, attached to when another process of this data directory already runs it.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const pgdata = path.join(dataDir, "pg");
  const log = options.logger.child({ component: "embedded-postgres" });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const password = await ensurePassword(dataDir);
  if (!cluster.isInitialised(pgdata)) {
    // Under the lock, so that of two first starts racing only one initialises.
    await withDataDirLock(dataDir, async () => {
      if (cluster.isInitialised(pgdata)) return;
      log.info({ pgdata }, "initialising embedded PostgreSQL");
      await cluster.initialise(pgdata, password);
    });
  }
  const choosePort = async () => options.port ?? (await findFreePort());
  const attachment = await acquireServer(dataDir, pgdata, choosePort, log);
  const release = () => releaseServer(dataDir, pgdata, log).then(() => undefined);
  try {
    await migrateLegacyPassword(attachment.port, password, log);
    const adminUrl = urlFor(attachment.port, password, "postgres");
    await createDatabaseIfMissing(adminUrl, options.database);
    log.info({ port: attachment.port, owner: attachment.owner }, "embedded PostgreSQL ready");
    return {
      url: urlFor(attachment.port, password, options.database),
      adminUrl,
      port: attachment.port,
      owner: attachment.owner,
      stop: release,
    };
  } catch (error) {
    await release().catch(() => undefined);
    throw error;
  }
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } catch (error) {
    // Two processes may race to create it: the loser sees duplicate_database (42P04), or, when both
    // passed the check at once, a unique violation on pg_database (23505). Either way it exists.
    const code = (error as { code?: string }).code;
    if (code !== "42P04" && code !== "23505") throw error;
  } finally {
    await client.end();
  }
}
