import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, inject } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** Admin URL of the embedded server started by vitest's global setup (test/support/global-setup.ts). */
export const embeddedAdminUrl = (): string => inject("pgAdminUrl");

/** The machine's PostgreSQL when the global setup found one, for suites that run on both servers. */
export const serverUrl = (): string | null => inject("pgServerUrl") || null;

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A new, migrated database of its own for one test file, on the embedded server unless told otherwise. */
export async function createTestDatabase(adminUrl = embeddedAdminUrl()): Promise<TestDatabase> {
  const name = `rs_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 20 });
  pool.on("error", () => undefined);
  return {
    url,
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await client.end();
    },
  };
}

/**
 * For the tests of a file or describe: a new database and a PostgreSQL event store on it (polling
 * every 100 ms), handed to `ready` before the first test, closed and dropped after the last.
 */
export function useTestStore(ready: (made: { db: TestDatabase; store: PostgresEventStore }) => void): void {
  let made: { db: TestDatabase; store: PostgresEventStore } | undefined;
  beforeAll(async () => {
    const db = await createTestDatabase();
    made = { db, store: await PostgresEventStore.create(db.pool, { pollIntervalMs: 100 }) };
    ready(made);
  });
  afterAll(async () => {
    await made?.store.close();
    await made?.db.drop();
  });
}
