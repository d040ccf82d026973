import { type RunningHttpServer, startHttpServer } from "../../../src/api/http-server.js";
import { type AppContext, openAppContext } from "../../../src/app/app-context.js";
import { DEFAULT_WORKSPACE } from "../../../src/auth/bootstrap.js";
import { createApiToken } from "../../../src/auth/token-store.js";
import { loadConfig } from "../../../src/config/config.js";
import { createLogger } from "../../../src/config/logger.js";
import type { PipelineDefinition } from "../../../src/pipelines/pipeline.js";
import { PipelineRegistry } from "../../../src/pipelines/registry.js";
import { type RunningWorker, startWorker } from "../../../src/worker/start-worker.js";
import { createTestDatabase, type TestDatabase } from "../../support/database.js";
import { gql } from "../../support/graphql-client.js";
import { type FaultyProxy, startFaultyProxy } from "./tcp-proxy.js";

/** A pipeline whose one step reports progress `count` times, `everyMs` apart: a long event stream. */
export function chattyPipeline(name: string, count: number, everyMs: number): PipelineDefinition {
  return {
    name,
    description: "reports progress many times",
    validateInput: () => null,
    steps: ["work", "finish"].map((id) => ({
      id,
      name: id,
      run: async (context) => {
        const times = id === "work" ? count : 1;
        for (let index = 0; index < times; index++) {
          await context.reportProgress((index + 1) / times, `${id} ${index}`);
          if (everyMs > 0) await new Promise((resolve) => setTimeout(resolve, everyMs));
        }
        return { output: { done: id } };
      },
    })),
  };
}

export interface StreamingApp {
  ctx: AppContext;
  db: TestDatabase;
  /** Between the app and PostgreSQL: `proxy.down()` is a database outage for the app only. */
  proxy: FaultyProxy;
  server: RunningHttpServer;
  baseUrl: string;
  /** An operator API token of the default workspace: `Authorization: Bearer <secret>`. */
  token: string;
  headers: Record<string, string>;
  startWorker(): Promise<RunningWorker>;
  close(): Promise<void>;
}

/** The API (and optionally a worker) on its own database, reached through a breakable proxy. */
export async function startStreamingApp(
  options: { env?: Record<string, string>; pipelines?: PipelineDefinition[] } = {},
): Promise<StreamingApp> {
  const db = await createTestDatabase();
  const target = new URL(db.url);
  const proxy = await startFaultyProxy(target.hostname, Number(target.port));
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
    HOST: "127.0.0.1",
    RUN_WORKER: "false",
    STREAM_POLL_INTERVAL_MS: "200",
    STREAM_RETRY_INITIAL_MS: "50",
    STREAM_RETRY_MAX_MS: "400",
    HEARTBEAT_MS: "200",
    WORKER_POLL_MS: "100",
    MAX_SUBSCRIPTIONS_PER_TOKEN: "1000",
    COMMAND_BURST: "1000",
    ...options.env,
    DATABASE_URL: proxy.urlFor(db.url),
    PORT: "0",
  });
  const logger = createLogger(config.LOG_LEVEL, "streaming-test");
  const opened = await openAppContext(config, logger);
  const ctx: AppContext = { ...opened, pipelines: new PipelineRegistry(options.pipelines ?? []) };
  ctx.projections.start();
  // The token first: a server starting with no tokens would make and print an admin token of its own.
  const { secret } = await createApiToken(ctx.prisma, {
    workspaceId: DEFAULT_WORKSPACE,
    role: "operator",
    name: "streaming tests",
  });
  const server = await startHttpServer(ctx, { closeGraceMs: 200 });
  const workers: RunningWorker[] = [];
  return {
    ctx,
    db,
    proxy,
    server,
    baseUrl: `http://127.0.0.1:${server.port}`,
    token: secret,
    headers: { authorization: `Bearer ${secret}` },
    async startWorker() {
      const worker = await startWorker(ctx, { sweeper: false });
      workers.push(worker);
      return worker;
    },
    async close() {
      await proxy.up();
      for (const worker of workers) await worker.stop();
      await server.close();
      await ctx.close();
      await proxy.close();
      await db.drop();
    },
  };
}

/** A GraphQL request as the app's token that must succeed. */
export async function gqlAs<Data>(app: StreamingApp, query: string, variables: Record<string, unknown> = {}) {
  const result = await gql<Data>(app.baseUrl, query, variables, app.headers);
  if (result.errors?.length || !result.data)
    throw new Error(`GraphQL request failed: ${JSON.stringify(result.errors)}`);
  return result.data;
}
