import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamingFor } from "../../src/streaming/streaming-service.js";
import { appendProgress, startRunningRun } from "./support/running-run.js";
import { payloadOf, type SseFrame, type SseStream, subscribeSse } from "./support/sse.js";
import { chattyPipeline, type StreamingApp, startStreamingApp } from "./support/streaming-app.js";

const RUN_EVENTS = `subscription ($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision type } }`;
const RUN_EVENTS_WITH_DATA = `subscription ($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision type data } }`;
const ALL_EVENTS = `subscription ($after: String) { events(after: $after) { runId revision type data } }`;

let app: StreamingApp;

/** The next `count` messages of a stream (comments skipped). */
async function messages(stream: SseStream, count: number): Promise<Extract<SseFrame, { kind: "message" }>[]> {
  const taken: Extract<SseFrame, { kind: "message" }>[] = [];
  // next() by hand: leaving a for-await would end the generator, and the stream with it.
  while (taken.length < count) {
    const step = await stream.frames.next();
    if (step.done) break;
    if (step.value.kind === "message" && step.value.event === "next") taken.push(step.value);
  }
  return taken;
}

/** Process CPU (user + system) used over `ms`, as a share of one core. */
async function cpuShareOver(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1_000 / ms;
}

beforeAll(async () => {
  app = await startStreamingApp({
    pipelines: [chattyPipeline("steps", 1, 0)],
    env: { STREAM_KEEPALIVE_MS: "5000" },
  });
});

afterAll(async () => {
  await app?.close();
});

describe("SSE fan-out", () => {
  it("executes each event once per distinct subscription: its subscribers get the same bytes, each with its id", async () => {
    const runId = await startRunningRun(app);
    const fanout = streamingFor(app.ctx).fanout;
    const groupsBefore = fanout.groupCount;
    // Same document and run, different cursors (the cursor is not part of a subscription's identity),
    // POST and GET alike; and one with another selection.
    const same = [
      await subscribeSse(app, RUN_EVENTS, { runId, after: null }),
      await subscribeSse(app, RUN_EVENTS, { runId, after: 1 }),
      await subscribeSse(app, RUN_EVENTS, { runId, after: null }, { method: "GET" }),
    ];
    const other = await subscribeSse(app, RUN_EVENTS_WITH_DATA, { runId, after: 1 });
    // Everything stored up to now (revisions 0..2), then live.
    const caughtUp = await Promise.all([messages(same[0] as SseStream, 3), messages(other, 1)]);
    expect(caughtUp[0].map((frame) => frame.id)).toEqual(["0", "1", "2"]);
    // Each subscriber's body ends with its connection: one socket write per event, no chunk framing.
    for (const stream of [...same, other]) {
      expect(stream.headers.get("transfer-encoding")).toBeNull();
      expect(stream.headers.get("connection")).toBe("close");
    }
    await appendProgress(app.ctx.store, runId, 3);
    const [a, b, c] = await Promise.all([
      messages(same[0] as SseStream, 3),
      messages(same[1] as SseStream, 4),
      messages(same[2] as SseStream, 6),
    ]);
    const live = (frames: Extract<SseFrame, { kind: "message" }>[]) => frames.slice(-3);
    expect(live(b)).toEqual(a);
    expect(live(c)).toEqual(a);
    expect(a.map((frame) => frame.id)).toEqual(["3", "4", "5"]);
    expect(payloadOf<{ runEvents: { revision: number } }>(a[0] as SseFrame)?.extensions?.cursor).toBe("3");
    const otherLive = await messages(other, 3);
    expect(otherLive.map((frame) => frame.id)).toEqual(["3", "4", "5"]);
    expect(otherLive[0]?.data).not.toEqual(a[0]?.data);
    expect(fanout.groupCount - groupsBefore).toBe(2);
    for (const stream of [...same, other]) stream.close();
    // The last subscriber of a group gone: the group (and its feed) is let go.
    for (let i = 0; i < 100 && fanout.groupCount > groupsBefore; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(fanout.groupCount).toBe(groupsBefore);
  });

  it("events(after:) beyond the log's head is refused with BAD_USER_INPUT that says what to do", async () => {
    await startRunningRun(app);
    const head = (await app.ctx.store.headPosition()) as string;
    const beyond = (BigInt(`0x${head}`) + 1n).toString(16).padStart(16, "0");
    for (const after of ["7fffffffffffffff", beyond]) {
      const refused = await subscribeSse(app, ALL_EVENTS, { after });
      const [first] = await messages(refused, 1);
      const error = payloadOf(first as SseFrame)?.errors?.[0];
      expect(error?.extensions?.code, after).toBe("BAD_USER_INPUT");
      expect(error?.message).toMatch(/beyond the last event/);
      expect(error?.message).toMatch(/subscribe from the start.*runEvents\(runId, after\)/);
      // Nothing follows the refusal: the stream completes.
      const rest: SseFrame[] = [];
      for await (const frame of refused.frames) if (frame.kind === "message") rest.push(frame);
      expect(rest.map((frame) => frame.kind === "message" && frame.event)).toEqual(["complete"]);
    }
    // The head itself is a valid cursor: the stream waits there for the next event.
    const atHead = await subscribeSse(app, ALL_EVENTS, { after: head });
    const runId = await startRunningRun(app);
    const [next] = await messages(atHead, 1);
    expect(
      payloadOf<{ events: { runId: string; revision: number } }>(next as SseFrame)?.data?.events,
    ).toMatchObject({
      runId,
      revision: 0,
    });
    atHead.close();
  });

  it("events that arrive together go to each subscriber in one socket write, in order", async () => {
    const runId = await startRunningRun(app);
    const streams = [
      await subscribeSse(app, RUN_EVENTS, { runId, after: 2 }),
      await subscribeSse(app, RUN_EVENTS, { runId, after: 2 }, { method: "GET" }),
    ];
    // The server runs in this process: its socket writes of live frames are counted here.
    const write = net.Socket.prototype.write;
    let frameWrites = 0;
    net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
      if (Buffer.isBuffer(chunk) && chunk.includes("event: next")) frameWrites++;
      return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof write;
    try {
      await appendProgress(app.ctx.store, runId, 20);
      const received = await Promise.all(streams.map((stream) => messages(stream, 20)));
      for (const frames of received)
        expect(frames.map((frame) => frame.id)).toEqual(Array.from({ length: 20 }, (_, i) => String(3 + i)));
      // 20 events of one append, 2 subscribers: a write or two each, not 40.
      expect(frameWrites).toBeLessThanOrEqual(4);
    } finally {
      net.Socket.prototype.write = write;
      for (const stream of streams) stream.close();
    }
  });

  it("a far-future Last-Event-ID is clamped to the head, leaves the CPU idle and does not move anyone's feed", async () => {
    const runId = await startRunningRun(app);
    // The far cursors first: they are the ones that would start the shared feeds.
    const farEvents = await subscribeSse(
      app,
      ALL_EVENTS,
      { after: null },
      { headers: { "last-event-id": "7fffffffffffffff" } },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const normal = await subscribeSse(app, ALL_EVENTS, { after: null });
    const farRun = await subscribeSse(
      app,
      RUN_EVENTS,
      { runId, after: null },
      {
        headers: { "last-event-id": "999999999999999" },
      },
    );
    // Let every catch-up finish, then measure a quiet stretch: nothing may spin on store reads.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // The app's own CPU, and its reads of the store (whose CPU is PostgreSQL's, in another process).
    const store = app.ctx.store;
    const readAll = store.readAll.bind(store);
    let reads = 0;
    store.readAll = (options) => {
      reads++;
      return readAll(options);
    };
    const share = await cpuShareOver(3_000).finally(() => {
      store.readAll = readAll;
    });
    // Idle, three followers of all runs' events read the store: the projections, the one shared feed
    // of both `events` subscribers and the one subscription behind every run's feed (`runEvents`),
    // each on its safety-net poll (STREAM_POLL_INTERVAL_MS = 200 here), so 3 x 15 in 3 s, give or
    // take one. A feed spinning on a far cursor reads thousands of times.
    expect(reads, `${reads} reads of all runs' events in 3 s`).toBeLessThanOrEqual(3 * 16);
    expect(share).toBeLessThan(0.15);
    // New events still reach the others: the far cursors did not decide where the shared feeds start.
    await appendProgress(app.ctx.store, runId, 1);
    const clamped = await messages(farRun, 1);
    expect(clamped[0]?.id).toBe("3");
    const revisionsOf = async (stream: SseStream) => {
      const seen: string[] = [];
      for await (const frame of stream.frames) {
        const event = payloadOf<{ events: { runId: string; revision: number } }>(frame)?.data?.events;
        if (event?.runId === runId) seen.push(String(event.revision));
        if (seen.includes("3")) break;
      }
      return seen;
    };
    expect(await revisionsOf(normal)).toEqual(["0", "1", "2", "3"]);
    // Clamped to the head, not ignored: the log is not replayed, the next new event comes first.
    expect(await revisionsOf(farEvents)).toEqual(["3"]);
    for (const stream of [normal, farEvents, farRun]) stream.close();
  });
});
