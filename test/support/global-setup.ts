/**
 * Runs once per `vitest` run, before any test worker: starts a throwaway embedded PostgreSQL (tests
 * make their own databases on it) and looks for the machine's server for the suites that run on both.
 * Workers read the URLs with `inject` (see test/support/database.ts).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { createLogger } from "../../src/config/logger.js";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of the embedded server started for this run. */
    pgAdminUrl: string;
    /** The machine's PostgreSQL, or "" when none answered. */
    pgServerUrl: string;
    /** EVENTSTORE_URL as the run was started with it, or "" (see test/support/kurrentdb.ts). */
    eventStoreUrl: string;
  }
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_500 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const logger = createLogger(process.env.LOG_LEVEL ?? "warn", "test-setup");
  // Each run gets its own folder: several runs at once (two terminals, say) must not share a server.
  await mkdir(".test-data", { recursive: true });
  const dataDir = await mkdtemp(path.resolve(".test-data/run-"));
  const [embedded, server] = await Promise.all([
    startEmbeddedPostgres({ dataDir, database: "runstream_test", logger }),
    findServer(),
  ]);
  console.log(
    `PostgreSQL backends: embedded ${embedded.port}${server.url ? `, server ${new URL(server.url).host}` : ` (no server reachable at ${server.host})`}`,
  );
  project.provide("pgAdminUrl", embedded.adminUrl);
  project.provide("pgServerUrl", server.url);
  // Only the KurrentDB suites use it; processes the other tests spawn must stay on PostgreSQL.
  project.provide("eventStoreUrl", process.env.EVENTSTORE_URL ?? "");
  delete process.env.EVENTSTORE_URL;
  return async () => {
    await embedded.stop();
    await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  };
}

async function findServer(): Promise<{ url: string; host: string }> {
  const candidate =
    process.env.TEST_SERVER_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  // Tests pick their databases themselves; a DATABASE_URL left in the shell must not reach the app.
  delete process.env.DATABASE_URL;
  return { url: (await reachable(candidate)) ? candidate : "", host: new URL(candidate).host };
}
