/**
 * Child process for the embedded PostgreSQL lifecycle test: starts the server on the data dir given
 * as argument, prints its URL as one JSON line, and stops it on SIGTERM. The test kills it with
 * SIGKILL to leave the server orphaned, as a crashed application would.
 */
import { createLogger } from "../../src/config/logger.js";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: embedded-child.ts <data dir>");
const db = await startEmbeddedPostgres({ dataDir, database: "lifecycle", logger: createLogger("silent") });
process.once("SIGTERM", () => {
  void db.stop().finally(() => process.exit(0));
});
console.log(JSON.stringify({ url: db.url, port: db.port }));
setInterval(() => undefined, 60_000);
