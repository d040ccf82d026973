import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningHttpServer, startHttpServer } from "../../src/api/http-server.js";
import { type AppContext, openAppContext } from "../../src/app/app-context.js";
import { createApiToken } from "../../src/auth/token-store.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/config/logger.js";
import { PipelineRegistry } from "../../src/pipelines/registry.js";
import { type StreamingApp, startStreamingApp } from "../streaming/support/streaming-app.js";
import { TEST_PIPELINE } from "../support/app.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { gql } from "../support/graphql-client.js";
import { type StallingProxy, startStallingProxy } from "./support/stalling-proxy.js";

let app: StreamingApp;
beforeAll(async () => {
  app = await startStreamingApp({ env: { UNAVAILABLE_RETRY_AFTER_MS: "3000" } });
});
afterAll(async () => {
  await app?.close();
});

const QUERY = `{ runs(first: 5) { edges { node { id } } } }`;
const MUTATION = `mutation { startRun(pipeline: "none", input: {}) { id } }`;

describe("during a database outage", () => {
  it("queries and mutations fail fast with UNAVAILABLE, HTTP 503 and retryAfterMs; then recover by themselves", async () => {
    expect((await gql(app.baseUrl, QUERY, {}, app.headers)).errors).toBeUndefined();
    await app.proxy.down();
    try {
      for (const operation of [QUERY, MUTATION, QUERY]) {
        const started = performance.now();
        const answer = await gql(app.baseUrl, operation, {}, app.headers);
        const elapsedMs = performance.now() - started;
        expect(answer.status, operation).toBe(503);
        expect(answer.headers.get("retry-after")).toBe("3");
        const error = answer.errors?.[0];
        expect(error?.extensions?.code).toBe("UNAVAILABLE");
        expect(error?.extensions?.retryAfterMs).toBe(3_000);
        expect(error?.extensions?.correlationId).toEqual(expect.any(String));
        // Nothing about the database (host, port, driver text) reaches the client.
        expect(JSON.stringify(answer.errors)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|terminated|5432/);
        expect(elapsedMs, operation).toBeLessThan(6_000);
      }
    } finally {
      await app.proxy.up();
    }
    // Back without a restart.
    const deadline = Date.now() + 10_000;
    let answer = await gql(app.baseUrl, QUERY, {}, app.headers);
    while (answer.errors && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      answer = await gql(app.baseUrl, QUERY, {}, app.headers);
    }
    expect(answer.status).toBe(200);
    expect(answer.errors).toBeUndefined();
  });
});

describe("during a database stall (connections open, no answer)", () => {
  let db: TestDatabase;
  let proxy: StallingProxy;
  let ctx: AppContext;
  let server: RunningHttpServer;
  let baseUrl: string;
  let headers: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await startStallingProxy(target.hostname, Number(target.port));
    // The API as in production, reaching its database only through the proxy.
    const config = loadConfig({
      NODE_ENV: "test",
      LOG_LEVEL: "silent",
      HOST: "127.0.0.1",
      RUN_WORKER: "false",
      DATABASE_URL: proxy.urlFor(db.url),
      PORT: "0",
    });
    const opened = await openAppContext(config, createLogger("silent", "stall-test"));
    ctx = { ...opened, pipelines: new PipelineRegistry([TEST_PIPELINE]) };
    ctx.projections.start();
    const { secret } = await createApiToken(ctx.prisma, {
      workspaceId: "default",
      role: "operator",
      name: "stall",
    });
    headers = { authorization: `Bearer ${secret}` };
    server = await startHttpServer(ctx, { closeGraceMs: 200 });
    baseUrl = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    proxy?.resume();
    await server?.close();
    await ctx?.close();
    await proxy?.close();
    await db?.drop();
  });

  it("requests answer UNAVAILABLE (503) within seconds instead of hanging, and work again after it", async () => {
    expect((await gql(baseUrl, QUERY, {}, headers)).errors).toBeUndefined();
    proxy.stall();
    try {
      const started = performance.now();
      const answers = await Promise.all([
        gql(baseUrl, QUERY, {}, headers),
        gql(baseUrl, MUTATION, {}, headers),
      ]);
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.errors?.[0]?.extensions?.code).toBe("UNAVAILABLE");
      }
      expect(performance.now() - started).toBeLessThan(8_000);
    } finally {
      proxy.resume();
    }
    // Back without a restart once the held-back answers arrive.
    const deadline = Date.now() + 10_000;
    let answer = await gql(baseUrl, QUERY, {}, headers);
    while (answer.errors && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      answer = await gql(baseUrl, QUERY, {}, headers);
    }
    expect(answer.errors).toBeUndefined();
  });
});
