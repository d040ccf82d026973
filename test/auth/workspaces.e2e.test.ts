import assert from "node:assert/strict";
import { createClient } from "graphql-sse";
import { afterAll, beforeAll, describe, test } from "vitest";
import { runStreamName } from "../../src/runs/events.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { as, codeOf, newToken, payload, subscribe, type TestToken } from "./support.js";

/**
 * Two workspaces, an operator in each: neither sees, streams nor changes the other's runs, and
 * the refusals say NOT_FOUND (or null / empty), exactly as for a run that does not exist.
 */
let app: TestApp;
let mine: TestToken;
let theirs: TestToken;
let myRun: string;
let theirRun: string;

const START = `mutation { startRun(pipeline: "test", input: { repo: "r" }) { id } }`;
const RUN_EVENTS = `subscription($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { runId revision } }`;
const RUN_UPDATED = `subscription($runId: ID!) { runUpdated(runId: $runId) { id } }`;
const EVENTS = `subscription($after: String) { events(after: $after) { runId position } }`;

const startAs = async (token: TestToken) =>
  (await as<{ startRun: { id: string } }>(app, token.headers, START)).data?.startRun.id as string;

beforeAll(async () => {
  app = await startTestApp();
  mine = await newToken(app, "mine", "operator");
  theirs = await newToken(app, "theirs", "operator");
  theirRun = await startAs(theirs);
  myRun = await startAs(mine);
});
afterAll(async () => {
  await app?.close();
});

describe("queries", () => {
  test("run is null, runs does not list it, runEvents is NOT_FOUND", async () => {
    const response = await as<{ run: unknown; runs: { edges: { node: { id: string } }[] } }>(
      app,
      mine.headers,
      `query($id: ID!) { run(id: $id) { id } runs(first: 100) { edges { node { id } } } }`,
      { id: theirRun },
    );
    assert.equal(response.data?.run, null);
    assert.deepEqual(
      response.data?.runs.edges.map((edge) => edge.node.id),
      [myRun],
    );
    const events = await as(app, mine.headers, `query($id: ID!) { runEvents(runId: $id) { revision } }`, {
      id: theirRun,
    });
    assert.equal(codeOf(events), "NOT_FOUND");
  });
});

describe("mutations", () => {
  test("every command on another workspace's run is NOT_FOUND and appends nothing", async () => {
    const mutations = [
      `mutation($id: ID!) { cancelRun(runId: $id) { id } }`,
      `mutation($id: ID!) { retryStep(runId: $id, stepId: "plan") { id } }`,
      `mutation($id: ID!) { resumeFromStep(runId: $id, stepId: "plan") { id } }`,
      `mutation($id: ID!) { selectAlternative(runId: $id, stepId: "plan", index: 0) { id } }`,
      `mutation($id: ID!) { rerunRun(runId: $id) { id } }`,
      `mutation($id: ID!) { failStaleRun(runId: $id) { id } }`,
    ];
    for (const mutation of mutations) {
      assert.equal(codeOf(await as(app, mine.headers, mutation, { id: theirRun })), "NOT_FOUND", mutation);
    }
    assert.equal((await app.ctx.store.readStream(runStreamName(theirRun))).length, 1);
  });

  test("the same idempotency key in two workspaces starts two runs", async () => {
    const start = `mutation { startRun(pipeline: "test", input: { repo: "r" }, idempotencyKey: "k") { id } }`;
    const a = await as<{ startRun: { id: string } }>(app, mine.headers, start);
    const b = await as<{ startRun: { id: string } }>(app, theirs.headers, start);
    assert.notEqual(a.data?.startRun.id, b.data?.startRun.id);
  });
});

describe("subscriptions, distinct connections (POST and GET with access_token)", () => {
  for (const method of ["POST", "GET"] as const) {
    test(`${method}: runEvents and runUpdated of another workspace's run are NOT_FOUND`, async () => {
      const options =
        method === "GET" ? { method, accessToken: mine.secret } : { method, headers: mine.headers };
      for (const query of [RUN_EVENTS, RUN_UPDATED]) {
        const stream = await subscribe(app.baseUrl, query, { runId: theirRun }, options);
        assert.equal(stream.status, 200);
        assert.equal(payload(await stream.next())?.errors?.[0]?.extensions?.code, "NOT_FOUND", query);
        stream.close();
      }
      const own = await subscribe(app.baseUrl, RUN_EVENTS, { runId: myRun }, options);
      assert.deepEqual(payload(await own.next())?.data, { runEvents: { runId: myRun, revision: 0 } });
      own.close();
    });
  }

  test("a Last-Event-ID resume of another workspace's run is NOT_FOUND", async () => {
    const stream = await subscribe(
      app.baseUrl,
      RUN_EVENTS,
      { runId: theirRun },
      {
        method: "GET",
        accessToken: mine.secret,
        headers: { "last-event-id": "0" },
      },
    );
    assert.equal(payload(await stream.next())?.errors?.[0]?.extensions?.code, "NOT_FOUND");
    stream.close();
  });

  test("events streams only the caller's workspace, from the start and after a Last-Event-ID", async () => {
    const theirLater = await startAs(theirs);
    const myLater = await startAs(mine);
    const seen = async (headers: Record<string, string>) => {
      const stream = await subscribe(app.baseUrl, EVENTS, {}, { headers });
      const runs: string[] = [];
      const ids: string[] = [];
      while (!runs.includes(myLater)) {
        const message = await stream.next();
        const event = payload(message)?.data?.events as { runId: string } | undefined;
        if (event) runs.push(event.runId);
        if (message?.id) ids.push(message.id);
      }
      stream.close();
      return { runs, ids };
    };
    const all = await seen(mine.headers);
    assert.ok(!all.runs.includes(theirRun) && !all.runs.includes(theirLater), JSON.stringify(all.runs));
    assert.ok(all.runs.includes(myRun));
    // Resuming after my first event (its id is a global position): still only mine.
    const resumed = await seen({ ...mine.headers, "last-event-id": all.ids[0] as string });
    assert.ok(!resumed.runs.includes(theirLater));
    assert.ok(!resumed.runs.includes(myRun), "resumed after it");
    assert.ok(resumed.runs.includes(myLater));
  });
});

describe("subscriptions, single connection (graphql-sse at /graphql/stream)", () => {
  const collect = async (
    headers: Record<string, string>,
    query: string,
    variables: Record<string, unknown>,
  ) => {
    const results: unknown[] = [];
    const client = createClient({
      url: `${app.baseUrl}/graphql/stream`,
      singleConnection: true,
      retryAttempts: 0,
      headers,
      // graphql-sse answers an operation refused at once on its POST (HTTP 4xx, errors in the body),
      // and the client then aborts: keep what the server said.
      fetchFn: async (url: string, init: RequestInit) => {
        const response = await fetch(url, init);
        if (response.status >= 400)
          results.push({ status: response.status, body: await response.clone().text() });
        return response;
      },
    });
    try {
      for await (const result of client.iterate({ query, variables })) {
        results.push(result);
        break;
      }
    } catch {
      // The refusal is in `results`.
    } finally {
      client.dispose();
    }
    return JSON.stringify(results);
  };

  test("another workspace's run is refused exactly like a run that does not exist; its own run streams", async () => {
    // It says nothing more for their run than for no run: NOT_FOUND on the stream, then the end.
    for (const query of [RUN_EVENTS, RUN_UPDATED]) {
      const refused = (await collect(mine.headers, query, { runId: theirRun })).replaceAll(theirRun, "<id>");
      assert.equal(
        refused,
        (await collect(mine.headers, query, { runId: "no-such-run" })).replaceAll("no-such-run", "<id>"),
      );
      assert.match(refused, /"code":"NOT_FOUND"/);
      assert.doesNotMatch(refused, /"status":4\d\d/);
    }
    assert.match(await collect(mine.headers, RUN_EVENTS, { runId: myRun }), new RegExp(`"runId":"${myRun}"`));
  });

  test("every request of the mode needs a token: the reservation is refused without one", async () => {
    const response = await fetch(`${app.baseUrl}/graphql/stream`, { method: "PUT" });
    assert.equal(response.status, 401);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    assert.equal(body.errors[0]?.extensions.code, "UNAUTHENTICATED");
    assert.match(await collect({}, RUN_EVENTS, { runId: myRun }), /401|UNAUTHENTICATED/);
  });
});
