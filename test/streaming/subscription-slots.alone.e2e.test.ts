import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStreamName } from "../../src/runs/events.js";
import { appendProgress, startRunningRun } from "./support/running-run.js";
import { chattyPipeline, type StreamingApp, startStreamingApp } from "./support/streaming-app.js";

/**
 * A subscription holds one of its token's MAX_SUBSCRIPTIONS_PER_TOKEN slots for exactly as long as its
 * stream is open: clients that vanish (socket destroyed) at any moment must give their slot back at
 * once, or a token whose clients reconnect often is soon refused everything (TOO_MANY_SUBSCRIPTIONS).
 */

const CAP = 3;
const RUN_EVENTS =
  "subscription ($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision type data } }";
// Not taken over by the fan-out: served by Yoga's own SSE path (sse-result-processor.ts).
const RUN_UPDATED = "subscription ($runId: ID!) { runUpdated(runId: $runId) { id status } }";
const ALL_EVENTS = "subscription ($after: String) { events(after: $after) { runId revision type data } }";

let app: StreamingApp;
let runId: string;
/** The run's last revision: `after` it, a stream is live at once. */
let lastRevision: number;

type Way = "POST" | "GET";
type Target = { kind: "runEvents" | "events" | "runUpdated"; live: boolean };

function requestText(way: Way, target: Target): string {
  const query = { runEvents: RUN_EVENTS, events: ALL_EVENTS, runUpdated: RUN_UPDATED }[target.kind];
  const variables =
    target.kind === "runUpdated"
      ? { runId }
      : target.kind === "runEvents"
        ? { runId, after: target.live ? lastRevision : null }
        : { after: target.live ? null : "0" };
  const port = new URL(app.baseUrl).port;
  const head = (method: string, path: string, extra: string) =>
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n` +
    `Authorization: Bearer ${app.token}\r\n${extra}\r\n`;
  if (way === "GET") {
    const search = new URLSearchParams({ query, variables: JSON.stringify(variables) });
    return head("GET", `/graphql?${search}`, "");
  }
  const body = JSON.stringify({ query, variables });
  return `${head("POST", "/graphql", `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`)}${body}`;
}

/** A raw connection sending one subscription request; `text` is what came back so far. */
function open(way: Way, target: Target) {
  const socket = net.connect(Number(new URL(app.baseUrl).port), "127.0.0.1");
  socket.setNoDelay(true);
  // The first 200 KB and the last 2 KB: a stream's end is found however much came before it.
  const got = { text: "", tail: "", bytes: 0 };
  const waiters: (() => void)[] = [];
  socket.on("data", (chunk: Buffer) => {
    got.bytes += chunk.length;
    if (got.text.length < 200_000) got.text += chunk.toString("utf8");
    got.tail = (got.tail + chunk.toString("utf8")).slice(-2_000);
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on("error", () => undefined);
  socket.on("close", () => {
    for (const wake of waiters.splice(0)) wake();
  });
  const request = requestText(way, target);
  return {
    socket,
    got,
    send: (text = request) => socket.write(text),
    request,
    /** Resolves once the response has `what` (or the socket closed, or the time is up). */
    until(what: (text: string) => boolean, timeoutMs = 5_000): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve) => {
        const check = () => {
          if (what(got.text) || what(got.tail)) return resolve(true);
          if (socket.destroyed || Date.now() > deadline) return resolve(false);
          waiters.push(check);
          setTimeout(check, Math.max(0, deadline - Date.now()) + 1).unref();
        };
        check();
      });
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const refused = (text: string) => text.includes("TOO_MANY_SUBSCRIPTIONS");
const hasEvent = (text: string) => text.includes("event: next");

async function activeGauge(): Promise<number> {
  const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("runstream_stream_subscriptions_active")) sum += Number(line.split(" ").at(-1));
  }
  return sum;
}

/** Within a short time: CAP new subscriptions are all accepted, and once closed the gauge is back to 0. */
async function expectAllSlotsFree(label: string): Promise<void> {
  const deadline = Date.now() + 2_000;
  let last = "";
  for (;;) {
    const streams = [0, 1, 2].slice(0, CAP).map(() => open("POST", { kind: "runEvents", live: true }));
    for (const stream of streams) stream.send();
    const answers = await Promise.all(
      streams.map((stream) =>
        stream.until((text) => refused(text) || hasEvent(text) || text.includes(":\n\nretry:")),
      ),
    );
    const refusals = streams.filter((stream) => refused(stream.got.text)).length;
    last = `${label}: ${refusals} of ${CAP} refused, answered ${answers}`;
    for (const stream of streams) stream.socket.destroy();
    if (refusals === 0) break;
    if (Date.now() > deadline) throw new Error(last);
    await sleep(100);
  }
  const gaugeDeadline = Date.now() + 2_000;
  let gauge = await activeGauge();
  while (gauge !== 0 && Date.now() < gaugeDeadline) {
    await sleep(50);
    gauge = await activeGauge();
  }
  expect(gauge, `${label}: runstream_stream_subscriptions_active`).toBe(0);
}

beforeAll(async () => {
  app = await startStreamingApp({
    pipelines: [chattyPipeline("steps", 1, 0)],
    env: { MAX_SUBSCRIPTIONS_PER_TOKEN: String(CAP), STREAM_KEEPALIVE_MS: "5000" },
  });
  runId = await startRunningRun(app, { workerId: "slots-test" });
  await appendProgress(app.ctx.store, runId, 2_000, 1_000);
  lastRevision = (await app.ctx.store.streamRevision(runStreamName(runId))) ?? 0;
}, 60_000);

afterAll(async () => {
  await app?.close();
});

const ROUNDS = 8;
const targets: { name: string; way: Way; kind: Target["kind"] }[] = [
  { name: "POST runEvents", way: "POST", kind: "runEvents" },
  { name: "POST events", way: "POST", kind: "events" },
  { name: "GET runEvents", way: "GET", kind: "runEvents" },
  { name: "GET events", way: "GET", kind: "events" },
  { name: "POST runUpdated (Yoga path)", way: "POST", kind: "runUpdated" },
  { name: "GET runUpdated (Yoga path)", way: "GET", kind: "runUpdated" },
];

describe.each(targets)("a destroyed client gives its slot back at once: $name", ({ way, kind }) => {
  it("before the request is complete, and before the first byte of the answer", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const batch = Array.from({ length: CAP + 2 }, () => open(way, { kind, live: false }));
      batch.forEach((stream, index) => {
        if (index % 2 === 0 && way === "POST") stream.send(stream.request.slice(0, -5));
        else stream.send();
      });
      // Cut at different moments: at once, after a few ms (Yoga still working), after the headers.
      await sleep(round % 3);
      for (const stream of batch) stream.socket.destroy();
    }
    await expectAllSlotsFree(`${way} ${kind} before first byte`);
  });

  it("in the middle of the catch-up (client not reading) and while live", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const catchingUp = Array.from({ length: CAP }, () => open(way, { kind, live: false }));
      for (const stream of catchingUp) stream.send();
      await Promise.all(catchingUp.map((stream) => stream.until(hasEvent)));
      for (const stream of catchingUp) stream.socket.pause();
      await sleep(20);
      for (const stream of catchingUp) stream.socket.destroy();

      const live = Array.from({ length: CAP }, () => open(way, { kind, live: true }));
      for (const stream of live) stream.send();
      await Promise.all(
        live.map((stream) => stream.until((text) => text.includes("retry:") || refused(text))),
      );
      for (const stream of live) stream.socket.destroy();
    }
    await expectAllSlotsFree(`${way} ${kind} catch-up/live`);
  });

  it("while refused (TOO_MANY_SUBSCRIPTIONS), and the holders too", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const holders = Array.from({ length: CAP }, () => open(way, { kind, live: true }));
      for (const stream of holders) stream.send();
      await Promise.all(
        holders.map((stream) => stream.until((text) => text.includes("retry:") || refused(text))),
      );
      const extra = Array.from({ length: 3 }, () => open(way, { kind, live: true }));
      for (const stream of extra) stream.send();
      const answered = await Promise.all(
        extra.map((stream, index) => (index === 0 ? sleep(1) : stream.until(refused))),
      );
      expect(answered.slice(1)).toEqual([true, true]);
      for (const stream of [...extra, ...holders]) stream.socket.destroy();
    }
    await expectAllSlotsFree(`${way} ${kind} refused`);
  });
});

/** An app of its own for a describe (its limits), swapped in for the tests of that describe. */
function withOwnApp(env: Record<string, string>): void {
  let first: StreamingApp;
  beforeAll(async () => {
    first = app;
    app = await startStreamingApp({
      pipelines: [chattyPipeline("steps", 1, 0)],
      env: { MAX_SUBSCRIPTIONS_PER_TOKEN: String(CAP), ...env },
    });
    runId = await startRunningRun(app, { workerId: "slots-test" });
    lastRevision = (await app.ctx.store.streamRevision(runStreamName(runId))) ?? 0;
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    app = first;
  });
}

async function slowConsumerCount(): Promise<number> {
  const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
  const line = text
    .split("\n")
    .find((each) => /^runstream_stream_errors_total\{[^}]*reason="slow_consumer"/.test(each));
  return Number(line?.split(" ").at(-1) ?? 0);
}

describe("a stream the server ends at its maximum duration gives its slot back", () => {
  withOwnApp({ STREAM_MAX_DURATION_MS: "400" });

  it.each(["POST", "GET"] as const)("%s runEvents ended by the server, then destroyed", async (way) => {
    for (let round = 0; round < 3; round++) {
      // One reading, two paused while events arrive: all three end at their maximum duration.
      const streams = Array.from({ length: CAP }, () => open(way, { kind: "runEvents", live: true }));
      for (const stream of streams) stream.send();
      await Promise.all(streams.map((stream) => stream.until((text) => text.includes("retry:"))));
      for (const stream of streams.slice(1)) stream.socket.pause();
      await appendProgress(app.ctx.store, runId, 100, 1_000);
      lastRevision = (await app.ctx.store.streamRevision(runStreamName(runId))) ?? 0;
      await streams[0]?.until((text) => text.includes("event: complete"), 3_000);
      expect(streams[0]?.got.tail).toContain("event: complete");
      await sleep(500);
      for (const stream of streams) stream.socket.destroy();
    }
    await expectAllSlotsFree(`${way} runEvents ended by the server`);
  });
});

describe("a stream the server ends as a SLOW_CONSUMER gives its slot back", () => {
  withOwnApp({ STREAM_MAX_BUFFERED_BYTES: "20000" });

  it("POST and GET runEvents that stopped reading, then destroyed", async () => {
    const before = await slowConsumerCount();
    const ways = ["POST", "GET", "POST"] as const;
    const streams = ways.map((way) => open(way, { kind: "runEvents", live: true }));
    for (const stream of streams) stream.send();
    await Promise.all(streams.map((stream) => stream.until((text) => text.includes("retry:"))));
    for (const stream of streams) stream.socket.pause();
    // 50 MB: what the kernel's socket buffers take in from a reader that stopped (tens of MB on
    // loopback here) is not the server's; past them, its own 20 KB bound ends each stream.
    for (let event = 0; event < 50; event++) await appendProgress(app.ctx.store, runId, 1, 1_000_000);
    const deadline = Date.now() + 10_000;
    while ((await slowConsumerCount()) < before + CAP && Date.now() < deadline) await sleep(100);
    expect(await slowConsumerCount()).toBe(before + CAP);
    for (const stream of streams) stream.socket.destroy();
    await expectAllSlotsFree("runEvents ended as SLOW_CONSUMER");
  });
});
