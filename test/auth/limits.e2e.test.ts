import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, test } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { as, codeOf, newToken, payload, subscribe } from "./support.js";

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({
    env: {
      MAX_QUERY_DEPTH: "4",
      MAX_QUERY_COMPLEXITY: "40",
      MAX_BODY_BYTES: "4000",
      MAX_INPUT_BYTES: "300",
      MAX_SUBSCRIPTIONS_PER_TOKEN: "2",
      // Slow refill (one command per 2 s), so a loaded machine cannot refill the bucket mid-test.
      COMMAND_RATE_PER_SECOND: "0.5",
      COMMAND_BURST: "3",
      GRAPHQL_INTROSPECTION: "false",
      GRAPHIQL: "false",
    },
  });
});
afterAll(async () => {
  await app?.close();
});

const runCount = () => app.ctx.prisma.run.count();

describe("query shape", () => {
  test("a query deeper than MAX_QUERY_DEPTH is BAD_USER_INPUT, also when hidden in fragments", async () => {
    // runs > edges > node > id: 4 levels, the limit; aliases side by side do not add up.
    const fourLevels = "{ runs { edges { node { id } } } again: runs { edges { node { id } } } }";
    assert.equal((await as(app, app.authHeaders, fourLevels)).errors, undefined);
    const fiveLevels = "{ runs { edges { node { steps { id } } } } }";
    assert.equal(codeOf(await as(app, app.authHeaders, fiveLevels)), "BAD_USER_INPUT");
    const inFragments = `{ runs { ...E } } fragment E on RunConnection { edges { node { ...N } } }
      fragment N on Run { steps { id } }`;
    assert.equal(codeOf(await as(app, app.authHeaders, inFragments)), "BAD_USER_INPUT");
  });

  test("selecting more than MAX_QUERY_COMPLEXITY fields (aliases count) is BAD_USER_INPUT; nothing runs", async () => {
    const before = await runCount();
    const aliases = Array.from({ length: 41 }, (_, i) => `p${i}: __typename`).join(" ");
    assert.equal(codeOf(await as(app, app.authHeaders, `{ ${aliases} }`)), "BAD_USER_INPUT");
    const starts = Array.from(
      { length: 20 },
      (_, i) => `s${i}: startRun(pipeline: "test", input: { repo: "r" }) { id status }`,
    ).join(" ");
    assert.equal(codeOf(await as(app, app.authHeaders, `mutation { ${starts} }`)), "BAD_USER_INPUT");
    assert.equal(await runCount(), before);
  });

  test("introspection is off when GRAPHQL_INTROSPECTION=false", async () => {
    const response = await as(app, app.authHeaders, "{ __schema { types { name } } }");
    assert.ok(response.errors?.length);
    assert.match(response.errors?.[0]?.message ?? "", /introspection/i);
  });

  test("GraphiQL is off when GRAPHIQL=false", async () => {
    const response = await fetch(`${app.baseUrl}/graphql`, { headers: { accept: "text/html" } });
    assert.doesNotMatch(await response.text(), /graphiql/i);
  });
});

describe("sizes", () => {
  test("a body over MAX_BODY_BYTES is refused with 413 and BAD_USER_INPUT, before authentication", async () => {
    const before = await runCount();
    const big = { repo: "r", padding: "x".repeat(5_000) };
    for (const headers of [app.authHeaders, {}]) {
      const response = await fetch(`${app.baseUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({
          query: `mutation($input: JSON) { startRun(pipeline: "test", input: $input) { id } }`,
          variables: { input: big },
        }),
      });
      assert.equal(response.status, 413);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      assert.equal(body.errors[0]?.extensions.code, "BAD_USER_INPUT");
    }
    assert.equal(await runCount(), before);
  });

  test("an input over MAX_INPUT_BYTES (but a body within bounds) is BAD_USER_INPUT", async () => {
    const before = await runCount();
    const response = await as(
      app,
      app.authHeaders,
      `mutation($input: JSON) { startRun(pipeline: "test", input: $input) { id } }`,
      {
        input: { repo: "r", padding: "x".repeat(400) },
      },
    );
    assert.equal(codeOf(response), "BAD_USER_INPUT");
    assert.equal(await runCount(), before);
  });
});

describe("rates and counts per token", () => {
  test("commands over the token's bucket are RATE_LIMITED with retryAfterMs, and do nothing", async () => {
    const token = await newToken(app, "default", "operator");
    const other = await newToken(app, "default", "operator");
    const start = `mutation { startRun(pipeline: "test", input: { repo: "r" }) { id } }`;
    for (let i = 0; i < 3; i++) assert.equal((await as(app, token.headers, start)).errors, undefined);
    const before = await runCount();
    const limited = await as(app, token.headers, start);
    assert.equal(codeOf(limited), "RATE_LIMITED");
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.errors?.[0]?.extensions?.retryAfterMs) > 0);
    assert.equal(await runCount(), before);
    // Queries are not commands, and other tokens have buckets of their own.
    assert.equal((await as(app, token.headers, "{ pipelines { name } }")).errors, undefined);
    assert.equal((await as(app, other.headers, start)).errors, undefined);
    // The bucket refills: one every 2 s.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    assert.equal((await as(app, token.headers, start)).errors, undefined);
  });

  test("more than MAX_SUBSCRIPTIONS_PER_TOKEN open streams: TOO_MANY_SUBSCRIPTIONS; closing one frees a slot", async () => {
    const token = await newToken(app, "default", "viewer");
    const other = await newToken(app, "default", "viewer");
    const runId = (
      await as<{ startRun: { id: string } }>(
        app,
        app.authHeaders,
        `mutation { startRun(pipeline: "test", input: { repo: "r" }) { id } }`,
      )
    ).data?.startRun.id;
    const query = "subscription($runId: ID!) { runEvents(runId: $runId) { revision } }";
    const open = [];
    for (let i = 0; i < 2; i++) {
      const stream = await subscribe(app.baseUrl, query, { runId }, { headers: token.headers });
      // Its first event arrived: the subscription is counted.
      assert.equal(payload(await stream.next())?.errors, undefined);
      open.push(stream);
    }
    const third = await subscribe(app.baseUrl, query, { runId }, { headers: token.headers });
    assert.equal(payload(await third.next())?.errors?.[0]?.extensions?.code, "TOO_MANY_SUBSCRIPTIONS");
    assert.equal((await third.next())?.event, "complete");
    third.close();
    const elsewhere = await subscribe(app.baseUrl, query, { runId }, { headers: other.headers });
    assert.equal(payload(await elsewhere.next())?.errors, undefined, "other tokens have their own count");
    elsewhere.close();
    open[0]?.close();
    let freed = false;
    for (let attempt = 0; attempt < 40 && !freed; attempt++) {
      const stream = await subscribe(app.baseUrl, query, { runId }, { headers: token.headers });
      freed = payload(await stream.next())?.errors === undefined;
      stream.close();
      if (!freed) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(freed, "a slot is free again once a stream closes");
    open[1]?.close();
  });
});
