import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, test } from "vitest";
import { runStreamName } from "../../src/runs/events.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { gqlOk } from "../support/graphql-client.js";
import { as, codeOf, newToken, type TestToken } from "./support.js";

let app: TestApp;
const tokens: Record<string, TestToken> = {};

beforeAll(async () => {
  app = await startTestApp();
  for (const role of ["viewer", "operator", "admin", "system"])
    tokens[role] = await newToken(app, "default", role);
});
afterAll(async () => {
  await app?.close();
});

const START = `mutation($key: String) { startRun(pipeline: "test", input: { repo: "r" }, idempotencyKey: $key) { id status } }`;
const CANCEL = `mutation($runId: ID!) { cancelRun(runId: $runId) { id status } }`;
const REBUILD = `mutation { rebuildProjections { projections } }`;
const QUERIES = `query($runId: ID!) {
  run(id: $runId) { id }
  runs(first: 5) { edges { node { id } } }
  runEvents(runId: $runId) { revision }
  pipelines { name }
}`;

const startedRun = async () =>
  (await gqlOk<{ startRun: { id: string } }>(app.baseUrl, START, {})).startRun.id;
const eventCount = async (runId: string) => (await app.ctx.store.readStream(runStreamName(runId))).length;

describe("authentication", () => {
  test("no Authorization header: UNAUTHENTICATED with HTTP 401", async () => {
    const response = await as(app, { authorization: "" }, "{ pipelines { name } }");
    assert.equal(response.status, 401);
    assert.equal(codeOf(response), "UNAUTHENTICATED");
    assert.equal(response.data, null);
  });

  test("an unknown token, a malformed header and a revoked token are refused alike", async () => {
    const revoked = await newToken(app, "default", "admin");
    await app.ctx.prisma.apiToken.update({ where: { id: revoked.id }, data: { revokedAt: new Date() } });
    for (const authorization of [
      "Bearer rst_not-a-real-token",
      "Bearer",
      `Basic ${tokens.admin?.secret}`,
      `Bearer ${revoked.secret}`,
    ]) {
      const response = await as(app, { authorization }, "{ pipelines { name } }");
      assert.equal(codeOf(response), "UNAUTHENTICATED", authorization);
    }
  });

  test("a refused mutation appends nothing", async () => {
    const response = await as(app, { authorization: "Bearer rst_nope" }, START, { key: "unauth-1" });
    assert.equal(codeOf(response), "UNAUTHENTICATED");
    const authorized = await as<{ startRun: { id: string } }>(app, tokens.operator?.headers ?? {}, START, {
      key: "unauth-1",
    });
    // Same key, first start now: revision 0 means nothing was started by the refused call.
    assert.equal(await eventCount(authorized.data?.startRun.id as string), 1);
  });

  test("access_token in the query string is accepted on GET event streams only", async () => {
    const url = `${app.baseUrl}/graphql?query=${encodeURIComponent("{ pipelines { name } }")}&access_token=${tokens.viewer?.secret}`;
    const plain = await fetch(url, { headers: { accept: "application/json" } });
    assert.equal(plain.status, 401);
    const post = await fetch(`${app.baseUrl}/graphql?access_token=${tokens.viewer?.secret}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: "{ pipelines { name } }" }),
    });
    assert.equal(post.status, 401);
    const stream = await fetch(url, { headers: { accept: "text/event-stream" } });
    assert.equal(stream.status, 200);
    assert.match(await stream.text(), /"pipelines"/);
  });

  test("GraphiQL's page needs no token (it only sends the ones typed in)", async () => {
    const response = await fetch(`${app.baseUrl}/graphql`, { headers: { accept: "text/html" } });
    assert.equal(response.status, 200);
  });
});

describe("roles", () => {
  test("every role may query", async () => {
    const runId = await startedRun();
    for (const role of ["viewer", "operator", "admin"]) {
      const response = await as(app, tokens[role]?.headers ?? {}, QUERIES, { runId });
      assert.equal(response.errors, undefined, role);
      assert.deepEqual((response.data as { run: { id: string } }).run, { id: runId });
    }
  });

  test("a viewer may not run commands: FORBIDDEN, and nothing is appended", async () => {
    const runId = await startedRun();
    const viewer = tokens.viewer?.headers ?? {};
    assert.equal(codeOf(await as(app, viewer, START, { key: "viewer-start" })), "FORBIDDEN");
    assert.equal(codeOf(await as(app, viewer, CANCEL, { runId })), "FORBIDDEN");
    // Through a fragment, with __typename beside it: still a command.
    const sneaky = `mutation($runId: ID!) { __typename ...C } fragment C on Mutation { cancelRun(runId: $runId) { id } }`;
    assert.equal(codeOf(await as(app, viewer, sneaky, { runId })), "FORBIDDEN");
    assert.equal(await eventCount(runId), 1);
    assert.equal(await app.ctx.prisma.run.count({ where: { idempotencyKey: "viewer-start" } }), 0);
  });

  test("an operator may run commands but not rebuild projections", async () => {
    const operator = tokens.operator?.headers ?? {};
    const started = await as<{ startRun: { id: string } }>(app, operator, START, {});
    assert.equal(started.errors, undefined);
    const cancelled = await as<{ cancelRun: { status: string } }>(app, operator, CANCEL, {
      runId: started.data?.startRun.id,
    });
    assert.equal(cancelled.data?.cancelRun.status, "CANCELLED");
    assert.equal(codeOf(await as(app, operator, REBUILD)), "FORBIDDEN");
    // All or nothing: a command beside a system-only field is refused with it.
    const mixed = `mutation { startRun(pipeline: "test", input: { repo: "r" }, idempotencyKey: "mixed") { id } rebuildProjections { projections } }`;
    assert.equal(codeOf(await as(app, operator, mixed)), "FORBIDDEN");
    assert.equal(await app.ctx.prisma.run.count({ where: { idempotencyKey: "mixed" } }), 0);
  });

  test("an admin may do everything in its workspace, but not rebuild every workspace's read models", async () => {
    const admin = tokens.admin?.headers ?? {};
    const started = await as<{ startRun: { id: string } }>(app, admin, START, {});
    assert.equal(started.errors, undefined);
    const refused = await as(app, admin, REBUILD);
    assert.equal(codeOf(refused), "FORBIDDEN");
    assert.equal(refused.status, 403);
  });

  test("a system token (created from the CLI) may rebuild", async () => {
    const rebuilt = await as<{ rebuildProjections: { projections: string[] } }>(
      app,
      tokens.system?.headers ?? {},
      REBUILD,
    );
    assert.equal(rebuilt.errors, undefined);
    assert.ok((rebuilt.data?.rebuildProjections.projections.length ?? 0) >= 1);
  });

  test("a viewer may subscribe", async () => {
    const runId = await startedRun();
    const query = `subscription($runId: ID!) { runEvents(runId: $runId) { revision type } }`;
    const params = new URLSearchParams({ query, variables: JSON.stringify({ runId }) });
    const controller = new AbortController();
    const response = await fetch(`${app.baseUrl}/graphql?${params}`, {
      headers: { accept: "text/event-stream", ...tokens.viewer?.headers },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("RunStarted")) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
  });
});
