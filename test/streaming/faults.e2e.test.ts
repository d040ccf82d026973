import assert from "node:assert/strict";
import http from "node:http";
import { Readable } from "node:stream";
import pg from "pg";
import { afterAll, beforeAll, describe, it } from "vitest";
import { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";
import { runStreamName } from "../../src/runs/events.js";
import { streamingMetrics } from "../../src/streaming/metrics.js";
import { appendProgress, startRunningRun } from "./support/running-run.js";
import { parseFrames, payloadOf, type SseStream, subscribePaused, subscribeSse } from "./support/sse.js";
import { chattyPipeline, type StreamingApp, startStreamingApp } from "./support/streaming-app.js";

const RUN_EVENTS = `subscription ($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision type } }`;
const RUN_EVENTS_WITH_DATA = `subscription ($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision type data } }`;
const ALL_EVENTS = `subscription ($after: String) { events(after: $after) { runId revision type } }`;
const RUN_UPDATED = `subscription ($runId: ID!) { runUpdated(runId: $runId) { id status revision } }`;

let app: StreamingApp;
/** Straight to the database, around the proxy: how "another process" appends while the app's link is down. */
let directPool: pg.Pool;
let direct: PostgresEventStore;
const WORKER = "test-worker";

interface Received {
  revisions: number[];
  errors: { code: string; retryAfterMs?: number }[];
  completed: boolean;
}

/** Reads a stream in the background into `received`. */
function drain(
  stream: SseStream,
  field: string,
  received: Received = { revisions: [], errors: [], completed: false },
) {
  const done = (async () => {
    for await (const frame of stream.frames) {
      if (frame.kind === "message" && frame.event === "complete") {
        received.completed = true;
        return;
      }
      const payload = payloadOf<Record<string, { revision: number }>>(frame);
      if (!payload) continue;
      for (const error of payload.errors ?? []) {
        received.errors.push({
          code: String(error.extensions?.code),
          retryAfterMs: error.extensions?.retryAfterMs as number | undefined,
        });
      }
      const event = payload.data?.[field];
      if (event) received.revisions.push(event.revision);
    }
  })();
  return { received, done, stream };
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const slowConsumers = async (kind: string) =>
  (await streamingMetrics.errors.get()).values.find(
    (value) => value.labels.kind === kind && value.labels.reason === "slow_consumer",
  )?.value ?? 0;

/**
 * Appends 1 MB batches to the run until the server reports one more slow consumer (how much the
 * kernel's socket buffers absorb first varies); returns the run's last revision.
 */
async function appendUntilSlow(runId: string, kind: string): Promise<number> {
  const before = await slowConsumers(kind);
  for (let batch = 0; batch < 100; batch++) {
    await appendProgress(direct, runId, 20, 50_000);
    if ((await slowConsumers(kind)) > before)
      return (await direct.streamRevision(runStreamName(runId))) ?? -1;
  }
  throw new Error("no slow consumer after 100 MB");
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

beforeAll(async () => {
  app = await startStreamingApp({
    pipelines: [chattyPipeline("steps", 1, 0)],
    env: { STREAM_KEEPALIVE_MS: "200", STREAM_MAX_BUFFERED_EVENTS: "20" },
  });
  directPool = new pg.Pool({ connectionString: app.db.url, max: 4 });
  direct = await PostgresEventStore.create(directPool);
});

afterAll(async () => {
  await direct.close();
  await directPool.end();
  await app.close();
});

describe("streams under faults", () => {
  it("database outage under open streams: error events with retryAfterMs, then recovery without loss or repetition", async () => {
    const runId = await startRunningRun(app, { store: direct, workerId: WORKER, leaseMs: 60_000 });
    await appendProgress(direct, runId, 5);
    const streams = [
      {
        stream: await subscribeSse(app, RUN_EVENTS, { runId, after: null }),
        field: "runEvents",
        from: 0,
      },
      {
        stream: await subscribeSse(app, RUN_EVENTS, { runId, after: 3 }, { method: "GET" }),
        field: "runEvents",
        from: 4,
      },
      { stream: await subscribeSse(app, ALL_EVENTS, { after: null }), field: "events", from: 0 },
    ].map(({ stream, field, from }) => ({ from, ...drain(stream, field) }));
    await eventually(
      () => streams.every(({ received }) => received.revisions.at(-1) === 7),
      "events before the outage",
    );

    await app.proxy.down();
    await appendProgress(direct, runId, 10);
    await eventually(
      () => streams.every(({ received }) => received.errors.some((error) => error.code === "UNAVAILABLE")),
      "an error event on every stream",
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await app.proxy.up();
    await eventually(
      () => streams.every(({ received }) => received.revisions.at(-1) === 17),
      "recovery",
      10_000,
    );

    for (const { stream, received, from } of streams) {
      stream.close();
      assert.deepEqual(received.revisions.slice(received.revisions.indexOf(from)), range(from, 17));
      if (from > 0) assert.deepEqual(received.revisions, range(from, 17));
      const unavailable = received.errors.filter((error) => error.code === "UNAVAILABLE");
      assert.ok(
        unavailable.every((error) => (error.retryAfterMs ?? 0) > 0 && (error.retryAfterMs ?? 0) <= 400),
      );
      // Backoff, not a hot loop: 50, 100, 200, 400, 400, ... ms over the ~1.5 s outage.
      assert.ok(unavailable.length <= 10, `${unavailable.length} error events`);
      assert.equal(received.completed, false);
    }
  });

  it("a run deleted mid-stream: an error event with NOT_FOUND, then the stream closes", async () => {
    const runId = await startRunningRun(app, { store: direct, workerId: WORKER, leaseMs: 60_000 });
    const events = drain(await subscribeSse(app, RUN_EVENTS, { runId, after: null }), "runEvents");
    const updates = drain(await subscribeSse(app, RUN_UPDATED, { runId }), "runUpdated");
    await eventually(() => events.received.revisions.at(-1) === 2, "the run's events");
    await eventually(() => updates.received.revisions.length > 0, "the run's state");
    await app.ctx.prisma.run.delete({ where: { id: runId } });
    await Promise.all([events.done, updates.done]);
    for (const { received } of [events, updates]) {
      assert.deepEqual(received.errors, [{ code: "NOT_FOUND", retryAfterMs: undefined }]);
      assert.equal(received.completed, true);
    }
  });

  it("a slow client past the buffer bound is closed, and resumes from its cursor", async () => {
    const runId = await startRunningRun(app, { store: direct, workerId: WORKER, leaseMs: 60_000 });
    // With the events' data: the bound is on bytes the server holds (the kernel's socket buffers
    // absorb a few MB first), so the frames must be as large as the appended events.
    const paused = await subscribePaused(app, RUN_EVENTS_WITH_DATA, { runId, after: null });
    // The client reads nothing while events are appended, until the kernel's socket buffers are full
    // and the server's bounded buffer overflows.
    const last = await appendUntilSlow(runId, "runEvents");
    const first = drain(paused.resume(), "runEvents");
    await first.done;
    assert.ok(first.received.completed, "the server closed the stream");
    assert.deepEqual(first.received.errors, [{ code: "SLOW_CONSUMER", retryAfterMs: 0 }]);
    const lastSeen = first.received.revisions.at(-1) ?? -1;
    assert.ok(lastSeen < last, `got ${lastSeen} of ${last}`);
    const resumed = drain(await subscribeSse(app, RUN_EVENTS, { runId, after: lastSeen }), "runEvents");
    await eventually(() => resumed.received.revisions.at(-1) === last, "the rest of the stream");
    resumed.stream.close();
    assert.deepEqual([...first.received.revisions, ...resumed.received.revisions], range(0, last));
  });

  it("single-connection mode: a paused stream's operations are bounded and end as slow consumers", async () => {
    const runId = await startRunningRun(app, { store: direct, workerId: WORKER, leaseMs: 60_000 });
    const url = `${app.baseUrl}/graphql/stream`;
    const token = await (await fetch(url, { method: "PUT", headers: app.headers })).text();
    const paused = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const request = http.get(`${url}?token=${token}`, {
        headers: { accept: "text/event-stream", ...app.headers },
      });
      request.on("error", reject);
      request.on("response", (response) => {
        response.pause();
        resolve(response);
      });
    });
    const accepted = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-graphql-event-stream-token": token, ...app.headers },
      body: JSON.stringify({ query: RUN_EVENTS, variables: { runId }, extensions: { operationId: "op1" } }),
    });
    assert.equal(accepted.status, 202);
    const last = await appendUntilSlow(runId, "runEvents");
    const revisions: number[] = [];
    const codes: string[] = [];
    for await (const frame of parseFrames(Readable.toWeb(paused) as ReadableStream<Uint8Array>)) {
      if (frame.kind !== "message") continue;
      const message = JSON.parse(frame.data) as {
        id: string;
        payload?: { data?: { runEvents: { revision: number } }; errors?: { extensions: { code: string } }[] };
      };
      if (frame.event === "complete") break;
      if (message.payload?.data) revisions.push(message.payload.data.runEvents.revision);
      for (const error of message.payload?.errors ?? []) codes.push(error.extensions.code);
    }
    paused.destroy();
    assert.deepEqual(codes, ["SLOW_CONSUMER"]);
    assert.deepEqual(revisions, range(0, revisions.length - 1));
    assert.ok(revisions.length < last, `${revisions.length} events delivered before the end`);
  });
});
