import pg from "pg";
import type { Config } from "../config/config.js";
import type { Logger } from "../config/logger.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./embedded-postgres.js";
import { migrate } from "./migrate.js";

export interface Database {
  url: string;
  /** Set when this process started the embedded server; stopping the database stops it. */
  embedded: EmbeddedDatabase | null;
  /** Pool for hot paths (event appends and reads) that go through `pg` directly. */
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * With DATABASE_URL, that server; without it, an embedded PostgreSQL whose files live in DATA_DIR.
 * Either way pending migrations are applied before anything else touches the database.
 */
export async function openDatabase(
  config: Pick<Config, "DATABASE_URL" | "DATA_DIR">,
  logger: Logger,
  poolSize = 20,
): Promise<Database> {
  const embedded = config.DATABASE_URL
    ? null
    : await startEmbeddedPostgres({ dataDir: config.DATA_DIR, database: "runstream", logger });
  const url = config.DATABASE_URL ?? (embedded as EmbeddedDatabase).url;
  try {
    await migrate(url, logger);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on("error", (error) => logger.warn({ err: error }, "idle database connection failed"));
  return {
    url,
    embedded,
    pool,
    async close() {
      await pool.end().catch(() => undefined);
      await embedded?.stop();
    },
  };
}
