/**
 * Runs the test suite on real PostgreSQL: starts a throwaway embedded server for the run (tests make
 * their own databases on it), finds the machine's server for the suites that run on both, then runs
 * node's test runner over the test files. `npm test -- unit` runs one tier; other arguments filter by path.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { createLogger } from "../src/config/logger.js";
import { startEmbeddedPostgres } from "../src/db/embedded-postgres.js";

const TIERS = new Set(["unit", "int", "e2e"]);

async function findTests(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return findTests(full);
      return Promise.resolve(entry.name.endsWith(".test.ts") ? [full] : []);
    }),
  );
  return nested.flat().sort();
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

const args = process.argv.slice(2);
const tiers = args.filter((arg) => TIERS.has(arg));
const filters = args.filter((arg) => !TIERS.has(arg));
const files = (await findTests("test")).filter(
  (file) =>
    (tiers.length === 0 || tiers.some((tier) => file.endsWith(`.${tier}.test.ts`))) &&
    (filters.length === 0 || filters.some((filter) => file.includes(filter))),
);

const logger = createLogger(process.env.LOG_LEVEL ?? "warn", "test-runner");
// Each run gets its own folder: several runs at once (two terminals, say) must not share a server.
await mkdir(".test-data", { recursive: true });
const dataDir = await mkdtemp(path.resolve(".test-data/run-"));
const embedded = await startEmbeddedPostgres({ dataDir, database: "runstream_test", logger });

const serverUrl =
  process.env.TEST_SERVER_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const serverAvailable = await reachable(serverUrl);
console.log(
  `# PostgreSQL backends: embedded ${embedded.port}${serverAvailable ? `, server ${new URL(serverUrl).host}` : ` (no server reachable at ${new URL(serverUrl).host})`}`,
);

const env: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: "test",
  TEST_PG_ADMIN_URL: embedded.adminUrl,
  TEST_PG_DATA_DIR: dataDir,
  TEST_SERVER_URL: serverAvailable ? serverUrl : "",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
};
delete env.DATABASE_URL;

const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-timeout=240000", ...files],
  { stdio: "inherit", env },
);
const code: number = await new Promise((resolve) => child.on("exit", (exitCode) => resolve(exitCode ?? 1)));
await embedded.stop();
await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
process.exit(code);
