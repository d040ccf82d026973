import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import { startHttpServer } from "../../src/api/http-server.js";
import { type AppContext, openAppContext } from "../../src/app/app-context.js";
import { NoApiTokensError } from "../../src/auth/bootstrap.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/config/logger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

let db: TestDatabase;
let ctx: AppContext;

beforeAll(async () => {
  db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: "development",
    LOG_LEVEL: "silent",
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_URL: db.url,
  });
  ctx = await openAppContext(config, createLogger("silent", "bootstrap-test"));
});
afterAll(async () => {
  await ctx?.close();
  await db?.drop();
});

const production = (): AppContext => ({ ...ctx, config: { ...ctx.config, NODE_ENV: "production" } });

test("production refuses to start without a token, saying how to create one", async () => {
  await assert.rejects(startHttpServer(production()), (error: Error) => {
    assert.ok(error instanceof NoApiTokensError);
    assert.match(error.message, /tokens create/);
    return true;
  });
  assert.equal(await ctx.prisma.apiToken.count(), 0);
});

test("a first start creates one admin token for the default workspace; GraphiQL offers it; later starts do not", async () => {
  const first = await startHttpServer(ctx, { closeGraceMs: 100 });
  const tokens = await ctx.prisma.apiToken.findMany();
  assert.equal(tokens.length, 1);
  assert.equal(tokens[0]?.role, "admin");
  assert.equal(tokens[0]?.workspaceId, "default");
  const page = await (
    await fetch(`http://127.0.0.1:${first.port}/graphql`, { headers: { accept: "text/html" } })
  ).text();
  const secret = /Bearer (rst_[\w-]+)/.exec(page)?.[1];
  assert.ok(secret, "GraphiQL pre-fills the Authorization header");
  const answer = await fetch(`http://127.0.0.1:${first.port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ query: "{ pipelines { name } }" }),
  });
  assert.equal(answer.status, 200);
  await first.close();

  const second = await startHttpServer(ctx, { closeGraceMs: 100 });
  assert.equal(await ctx.prisma.apiToken.count(), 1);
  const again = await (
    await fetch(`http://127.0.0.1:${second.port}/graphql`, { headers: { accept: "text/html" } })
  ).text();
  assert.doesNotMatch(again, /Bearer rst_/, "the secret is shown once only");
  await second.close();
  // And production starts now that a token exists.
  const prod = await startHttpServer(production(), { closeGraceMs: 100 });
  await prod.close();
});
