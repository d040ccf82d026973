import {
  type HttpServerOptions,
  type RunningHttpServer,
  startHttpServer,
} from "../../src/api/http-server.js";
import type { AppContext } from "../../src/app/app-context.js";
import { openAppContext } from "../../src/app/app-context.js";
import { createApiToken } from "../../src/auth/token-store.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger, type Logger } from "../../src/config/logger.js";
import type { PrismaClient } from "../../src/db/prisma.js";
import type { PipelineDefinition } from "../../src/pipelines/pipeline.js";
import { PipelineRegistry } from "../../src/pipelines/registry.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { setDefaultHeaders } from "./graphql-client.js";

/** A small pipeline for API tests: steps are never executed here (no worker), only named. */
export const TEST_PIPELINE: PipelineDefinition = {
  name: "test",
  description: "three steps, for tests",
  steps: ["plan", "apply", "review"].map((id) => ({
    id,
    name: id[0]?.toUpperCase() + id.slice(1),
    run: async () => ({ output: id }),
  })),
  validateInput: (input) =>
    input !== null && typeof input === "object" && !Array.isArray(input) && typeof input.repo === "string"
      ? null
      : "input must be an object with a string `repo`",
};

export interface TestApp {
  ctx: AppContext;
  db: TestDatabase;
  server: RunningHttpServer;
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  /** An admin token of workspace "default", which `gql` sends by default. */
  token: string;
  /** `Authorization: Bearer <token>`, for requests made without `gql`. */
  authHeaders: Record<string, string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Environment on top of DATABASE_URL and PORT=0, e.g. { MAX_INPUT_BYTES: "100" }. */
  env?: Record<string, string>;
  pipelines?: PipelineDefinition[];
  server?: HttpServerOptions;
  /** Replaces the context's logger (e.g. one writing to a stream the test reads). */
  logger?: Logger;
  /** The Prisma client the API reads with (e.g. one that logs its queries); the caller disconnects it. */
  prisma?: (databaseUrl: string) => PrismaClient;
}

/**
 * The API as `npm run serve` composes it (real AppContext, projections running), on a database of
 * its own, listening on a free port; no worker.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
    HOST: "127.0.0.1",
    RUN_WORKER: "false",
    // Tests fire commands much faster than a person; the limits' own tests set them low again.
    COMMAND_RATE_PER_SECOND: "1000",
    COMMAND_BURST: "1000",
    ...options.env,
    DATABASE_URL: db.url,
    PORT: "0",
  });
  const logger = options.logger ?? createLogger(config.LOG_LEVEL, "test-app");
  const opened = await openAppContext(config, logger);
  const ctx: AppContext = {
    ...opened,
    pipelines: new PipelineRegistry(options.pipelines ?? [TEST_PIPELINE]),
    prisma: options.prisma?.(db.url) ?? opened.prisma,
  };
  ctx.projections.start();
  const { secret } = await createApiToken(ctx.prisma, {
    workspaceId: "default",
    role: "admin",
    name: "test",
  });
  const server = await startHttpServer(ctx, { closeGraceMs: 500, ...options.server });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const authHeaders = { authorization: `Bearer ${secret}` };
  setDefaultHeaders(baseUrl, authHeaders);
  return {
    ctx,
    db,
    server,
    baseUrl,
    token: secret,
    authHeaders,
    async close() {
      await server.close();
      await ctx.close();
      await db.drop();
    },
  };
}
