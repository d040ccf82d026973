import { Command } from "commander";
import { type RunningHttpServer, startHttpServer } from "./api/http-server.js";
import { type AppContext, openAppContext } from "./app/app-context.js";
import { ConfigError, loadConfig } from "./config/config.js";
import { createLogger } from "./config/logger.js";
import { type RunningWorker, startWorker } from "./worker/start-worker.js";

/**
 * `npm start`: API and worker in one process; `--no-worker` (or RUN_WORKER=false) serves only;
 * `--worker-only` executes runs only. Without DATABASE_URL everything runs on an embedded PostgreSQL.
 */
const options = new Command("runstream")
  .option("--no-worker", "do not execute runs in this process")
  .option("--worker-only", "execute runs without serving the API")
  .parse()
  .opts<{ worker: boolean; workerOnly?: boolean }>();

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
const logger = createLogger(config.LOG_LEVEL);

let ctx: AppContext | undefined;
let server: RunningHttpServer | undefined;
let worker: RunningWorker | undefined;
let stopping = false;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down");
  const forced = setTimeout(() => process.exit(1), 20_000);
  forced.unref();
  const began = performance.now();
  const step = (what: string) => logger.debug({ ms: Math.round(performance.now() - began) }, what);
  await server?.close().catch((error) => logger.error({ err: error }, "closing the HTTP server failed"));
  step("HTTP server closed");
  await worker?.stop().catch((error) => logger.error({ err: error }, "stopping the worker failed"));
  step("worker stopped");
  await ctx?.close().catch((error) => logger.error({ err: error }, "closing the database failed"));
  step("database closed");
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

// Milliseconds since the process began, for the start-up log lines (where start-up time goes).
const sinceStart = () => Math.round(performance.now());
logger.debug({ ms: sinceStart() }, "modules loaded");

try {
  ctx = await openAppContext(config, logger);
  logger.debug({ ms: sinceStart() }, "database and event store open");
  ctx.projections.start();
  if (!options.workerOnly) server = await startHttpServer(ctx);
  if (options.workerOnly || (options.worker && config.RUN_WORKER)) worker = await startWorker(ctx);
  logger.info(
    {
      api: server ? `http://localhost:${server.port}/graphql` : null,
      worker: worker?.id ?? null,
      startupMs: sinceStart(),
    },
    "runstream started",
  );
} catch (error) {
  logger.fatal({ err: error }, "runstream failed to start");
  await ctx?.close().catch(() => undefined);
  process.exit(1);
}
