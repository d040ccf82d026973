import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, test, vi } from "vitest";
import { startHttpServer } from "../../src/api/http-server.js";
import { type AppContext, openAppContext } from "../../src/app/app-context.js";
import { NoApiTokensError } from "../../src/auth/bootstrap.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/config/logger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

let db: TestDatabase;
let ctx: AppContext;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "runstream-bootstrap-"));
  db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: "development",
    LOG_LEVEL: "silent",
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
  });
  ctx = await openAppContext(config, createLogger("silent", "bootstrap-test"));
});
afterAll(async () => {
  await ctx?.close();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
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

test("a first start creates one admin token, prints it once and saves it owner-only; never in the page or the log", async () => {
  const logged = new PassThrough();
  let logText = "";
  logged.on("data", (chunk) => {
    logText += chunk;
  });
  const printed: string[] = [];
  const print = vi.spyOn(console, "log").mockImplementation((...args) => void printed.push(args.join(" ")));
  const withLog: AppContext = { ...ctx, logger: pino({ level: "info" }, logged) };
  const first = await startHttpServer(withLog, { closeGraceMs: 100 });
  print.mockRestore();
  const tokens = await ctx.prisma.apiToken.findMany();
  assert.equal(tokens.length, 1);
  assert.equal(tokens[0]?.role, "admin");
  assert.equal(tokens[0]?.workspaceId, "default");

  const file = path.join(dataDir, "admin-token");
  const secret = (await readFile(file, "utf8")).trim();
  assert.match(secret, /^rst_/);
  assert.equal((await stat(file)).mode & 0o777, 0o600, "readable by its owner only");
  assert.equal(printed.filter((line) => line.includes(secret)).length, 1, "printed on the terminal once");
  assert.ok(
    printed.some((line) => line.includes(file)),
    "saying where it is saved",
  );
  assert.ok(!logText.includes(secret), "never in the log");
  assert.match(logText, /created an admin token/);

  const page = await (
    await fetch(`http://127.0.0.1:${first.port}/graphql`, { headers: { accept: "text/html" } })
  ).text();
  assert.ok(!page.includes(secret), "GraphiQL's page carries no secret");
  assert.doesNotMatch(page, /rst_/);
  assert.ok(page.includes("paste your API token here"), "a placeholder in the headers instead");
  const answer = await fetch(`http://127.0.0.1:${first.port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ query: "{ pipelines { name } }" }),
  });
  assert.equal(answer.status, 200);
  await first.close();

  const second = await startHttpServer(ctx, { closeGraceMs: 100 });
  assert.equal(await ctx.prisma.apiToken.count(), 1, "a later start creates none");
  await second.close();
  // And production starts now that a token exists.
  const prod = await startHttpServer(production(), { closeGraceMs: 100 });
  await prod.close();
});
