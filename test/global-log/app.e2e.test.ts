import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, test } from "vitest";
import { SEQUENCER_HOLD_LIMIT_MS } from "../../src/event-store/postgres/schema.js";
import { type RunningWorker, startWorker } from "../../src/worker/start-worker.js";
import { payloadOf, type SseFrame, subscribeSse } from "../streaming/support/sse.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { embeddedAdminUrl } from "../support/database.js";
import { gqlOk } from "../support/graphql-client.js";

const RUN_FIELDS = "id status revision steps { id status }";
const START = `mutation { startRun(pipeline: "test", input: { repo: "r" }) { ${RUN_FIELDS} } }`;
const CANCEL = `mutation ($id: ID!) { cancelRun(runId: $id, reason: "enough") { ${RUN_FIELDS} } }`;

interface Run {
  id: string;
  status: string;
  revision: number;
  steps: { id: string; status: string }[];
}

interface Answer<Data> {
  status: number;
  data: Data | null;
  errors?: { message: string; extensions?: { code?: string } }[];
  extensions?: { readModelLag?: { runs: string[]; waitedMs: number; message: string } };
}

/** POST /graphql with the whole answer, `extensions` included. */
async function post<Data>(app: TestApp, query: string, variables = {}): Promise<Answer<Data>> {
  const response = await fetch(`${app.baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...app.authHeaders },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as Omit<Answer<Data>, "status">) };
}

/** BEGIN; rs_append_batch(...) on a connection of its own, left open: it holds the sequencer. */
async function holdSequencer(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on("error", () => undefined);
  await client.connect();
  await client.query("BEGIN");
  const append = {
    stream: `held-${randomUUID()}`,
    expect: "any",
    events: [
      { id: randomUUID(), type: "Held", data: {}, metadata: {}, occurredAt: new Date().toISOString() },
    ],
  };
  await client.query("SELECT * FROM rs_append_batch($1::jsonb)", [JSON.stringify([append])]);
  return client;
}

describe("commands whose events were appended never answer an error", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { READ_YOUR_WRITES_TIMEOUT_MS: "300" } });
  });
  afterAll(async () => app?.close());

  test("a late read model: success, the run as the events say, and a note in extensions", async () => {
    await app.ctx.projections.stop();
    try {
      const started = await post<{ startRun: Run }>(app, START);
      assert.equal(started.errors, undefined, JSON.stringify(started.errors));
      const run = started.data?.startRun as Run;
      assert.equal(run.status, "PENDING");
      assert.equal(run.revision, 0);
      assert.deepEqual(
        run.steps.map((step) => step.id),
        ["plan", "apply", "review"],
      );
      assert.deepEqual(started.extensions?.readModelLag?.runs, [run.id]);
      assert.match(started.extensions?.readModelLag?.message ?? "", /events are stored/);

      const cancelled = await post<{ cancelRun: Run }>(app, CANCEL, { id: run.id });
      assert.equal(cancelled.errors, undefined, JSON.stringify(cancelled.errors));
      assert.equal(cancelled.data?.cancelRun.status, "CANCELLED");
      assert.equal(cancelled.data?.cancelRun.revision, 1);
      assert.deepEqual(cancelled.extensions?.readModelLag?.runs, [run.id]);

      // Exactly one run was started: the client had no reason to retry.
      assert.equal((await app.ctx.store.readAll({ streamPrefix: "run-" })).length, 2);
    } finally {
      app.ctx.projections.start();
    }
    // Once the read model catches up, queries agree with what the mutations answered.
    const [last] = (await app.ctx.store.readAll({ streamPrefix: "run-" })).slice(-1);
    await app.ctx.projections.waitFor(last?.position as string, 30_000);
    const runs = await post<{ runs: { edges: { node: Run }[] } }>(
      app,
      `{ runs(first: 5) { edges { node { ${RUN_FIELDS} } } } }`,
    );
    assert.deepEqual(
      runs.data?.runs.edges.map((edge) => [edge.node.status, edge.node.revision]),
      [["CANCELLED", 1]],
    );
  });

  test("a writer stalled mid-append: /readyz and /metrics say so, the mutation waits and succeeds", async () => {
    const holder = await holdSequencer(app.db.url);
    try {
      await sleep(1_300);
      // Strangers get the status and its cause; an admin token gets the checks with their detail.
      const stranger = await fetch(`${app.baseUrl}/readyz`);
      assert.deepEqual(await stranger.json(), { ready: false, cause: "appends stalled" });
      const ready = await fetch(`${app.baseUrl}/readyz`, { headers: app.authHeaders });
      const body = (await ready.json()) as { checks: { eventLog: { ok: boolean; detail: unknown } } };
      assert.equal(ready.status, 503, JSON.stringify(body));
      assert.equal(body.checks.eventLog.ok, false);
      const metrics = await (await fetch(`${app.baseUrl}/metrics`, { headers: app.authHeaders })).text();
      const held = Number(/^runstream_event_log_append_held_seconds (\S+)$/m.exec(metrics)?.[1]);
      assert.ok(held >= 1, `held seconds in /metrics: ${held}`);

      const started = performance.now();
      const answer = await post<{ startRun: Run }>(app, START);
      const waitedMs = performance.now() - started;
      assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
      assert.equal(answer.data?.startRun.status, "PENDING");
      assert.ok(waitedMs < SEQUENCER_HOLD_LIMIT_MS + 3_000, `bounded: waited ${Math.round(waitedMs)} ms`);
    } finally {
      await holder.end().catch(() => undefined);
    }
    const after = await fetch(`${app.baseUrl}/readyz`);
    assert.equal(after.status, 200, await after.text());
  }, 30_000);
});

describe("an idle transaction on another database of the same server", () => {
  let app: TestApp;
  let worker: RunningWorker;
  let admin: pg.Client;
  let idle: pg.Client;
  const other = `rs_idle_${randomBytes(4).toString("hex")}`;
  beforeAll(async () => {
    app = await startTestApp();
    worker = await startWorker(app.ctx, { sweeper: false });
    admin = new pg.Client({ connectionString: embeddedAdminUrl() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${other}`);
    const url = new URL(embeddedAdminUrl());
    url.pathname = `/${other}`;
    idle = new pg.Client({ connectionString: url.toString() });
    await idle.connect();
    await idle.query("BEGIN");
    await idle.query("SELECT pg_current_xact_id()");
  });
  afterAll(async () => {
    await idle?.end().catch(() => undefined);
    await admin?.query(`DROP DATABASE IF EXISTS ${other} WITH (FORCE)`).catch(() => undefined);
    await admin?.end();
    await worker?.stop();
    await app?.close();
  });

  test("a new run is projected, executed and streamed live", async () => {
    const stream = await subscribeSse(
      { baseUrl: app.baseUrl, headers: app.authHeaders },
      "subscription { events { type } }",
      {},
    );
    const frames: SseFrame[] = [];
    const received: string[] = [];
    const reading = (async () => {
      for await (const frame of stream.frames) {
        frames.push(frame);
        const payload = payloadOf<{ events: { type: string } }>(frame);
        if (payload?.data?.events) received.push(payload.data.events.type);
        if (received.includes("RunCompleted")) return;
      }
    })();
    try {
      const answer = await post<{ startRun: Run }>(app, START);
      assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
      assert.equal(answer.extensions?.readModelLag, undefined, "read-your-writes held");
      const runId = answer.data?.startRun.id as string;

      const deadline = Date.now() + 20_000;
      let status = "";
      while (status !== "COMPLETED" && Date.now() < deadline) {
        const data = await gqlOk<{ run: Run }>(app.baseUrl, `{ run(id: "${runId}") { ${RUN_FIELDS} } }`);
        status = data.run.status;
        if (status !== "COMPLETED") await sleep(100);
      }
      assert.equal(status, "COMPLETED", "the worker picked the run up and finished it");
      await Promise.race([reading, sleep(10_000)]);
      assert.equal(received[0], "RunStarted", `live events: ${received.join(",")}`);
      assert.ok(received.includes("RunCompleted"), `live events: ${received.join(",")}`);
      const idleState = await admin.query<{ state: string }>(
        "SELECT state FROM pg_stat_activity WHERE datname = $1",
        [other],
      );
      assert.equal(idleState.rows[0]?.state, "idle in transaction", "the foreign transaction stayed open");
    } finally {
      stream.close();
      await reading.catch(() => undefined);
    }
  }, 60_000);
});
