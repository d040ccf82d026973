import assert from "node:assert/strict";
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, it } from "vitest";
import { subscribeWithResume } from "../../src/client/resuming-subscription.js";
import { runStreamName } from "../../src/runs/events.js";
import { streamingMetrics } from "../../src/streaming/metrics.js";
import { subscribeSse } from "./support/sse.js";
import { chattyPipeline, gqlAs, type StreamingApp, startStreamingApp } from "./support/streaming-app.js";

const RUN_EVENTS = `subscription ($runId: ID!, $after: Int) {
  runEvents(runId: $runId, after: $after) { revision type }
}`;

let app: StreamingApp;

async function startRun(): Promise<string> {
  const data = await gqlAs<{ startRun: { id: string } }>(
    app,
    'mutation { startRun(pipeline: "chatty", input: {}) { id } }',
  );
  return data.startRun.id;
}

const storedRevisions = async (runId: string) =>
  (await app.ctx.store.readStream(runStreamName(runId))).map((event) => event.revision);

async function activeGauge(kind: string): Promise<number> {
  const values = (await streamingMetrics.activeSubscriptions.get()).values;
  return values.find((value) => value.labels.kind === kind)?.value ?? 0;
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  app = await startStreamingApp({
    pipelines: [chattyPipeline("chatty", 120, 10)],
    // Streams end every 400 ms: every client below has to resume several times.
    env: { STREAM_MAX_DURATION_MS: "400", STREAM_RETRY_INITIAL_MS: "50" },
  });
  await app.startWorker();
});

afterAll(async () => {
  await app.close();
});

describe("clients resume by themselves", () => {
  for (const singleConnection of [false, true]) {
    it(`the client module resumes across maximum-duration ends without a gap (${singleConnection ? "single connection" : "distinct connections"})`, async () => {
      const runId = await startRun();
      const revisions: number[] = [];
      let resolveCompleted = () => {};
      let rejectCompleted = (_error: Error) => {};
      const completed = new Promise<void>((resolve, reject) => {
        resolveCompleted = resolve;
        rejectCompleted = reject;
      });
      const subscription = subscribeWithResume<{ runEvents: { revision: number; type: string } }>({
        url: `${app.baseUrl}${singleConnection ? "/graphql/stream" : "/graphql"}`,
        singleConnection,
        query: RUN_EVENTS,
        variables: { runId },
        cursor: { variable: "after", type: "int" },
        retry: { initialMs: 20, maxMs: 200 },
        headers: app.headers,
        onData: ({ runEvents }) => {
          revisions.push(runEvents.revision);
          if (runEvents.type === "RunCompleted") resolveCompleted();
        },
        onError: (error) => rejectCompleted(new Error(error.message)),
      });
      await completed;
      subscription.dispose();
      await subscription.done;
      assert.deepEqual(revisions, await storedRevisions(runId));
      assert.equal(subscription.cursor, String(revisions.at(-1)));
      assert.ok(subscription.attempts > 2, `${subscription.attempts} attempts`);
    });
  }

  it("a plain EventSource resumes with Last-Event-ID after each server-side end", async () => {
    const runId = await startRun();
    const params = new URLSearchParams({
      query: RUN_EVENTS,
      variables: JSON.stringify({ runId }),
      access_token: app.token,
    });
    const source = new EventSource(`${app.baseUrl}/graphql?${params}`);
    const revisions: number[] = [];
    let opens = 0;
    source.addEventListener("open", () => opens++);
    await new Promise<void>((resolve, reject) => {
      source.addEventListener("next", (message) => {
        const payload = JSON.parse(message.data) as {
          data?: { runEvents: { revision: number; type: string } };
        };
        if (!payload.data) return reject(new Error(message.data));
        assert.equal(message.lastEventId, String(payload.data.runEvents.revision));
        revisions.push(payload.data.runEvents.revision);
        if (payload.data.runEvents.type === "RunCompleted") resolve();
      });
    });
    source.close();
    assert.deepEqual(revisions, await storedRevisions(runId));
    assert.ok(opens > 1, `${opens} connections`);
  });

  it("a client that goes away stops the server's work: the active-subscriptions gauge comes back", async () => {
    const runId = await startRun();
    const before = await activeGauge("runEvents");
    const streams = await Promise.all(
      Array.from({ length: 5 }, () => subscribeSse(app, RUN_EVENTS, { runId, after: null })),
    );
    await Promise.all(streams.map((stream) => stream.frames.next()));
    await eventually(async () => (await activeGauge("runEvents")) === before + 5, "5 active subscriptions");
    for (const stream of streams) stream.close();
    await eventually(async () => (await activeGauge("runEvents")) === before, "the gauge back to its value");
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
    assert.match(metrics, /runstream_stream_subscriptions_active\{kind="runEvents"\}/);
    assert.match(metrics, /runstream_stream_events_delivered_total/);
  });
});
