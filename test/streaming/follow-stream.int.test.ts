import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { StoredEvent } from "../../src/event-store/event-store.js";
import { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";
import { RUN_STREAM_PREFIX, runStreamName } from "../../src/runs/events.js";
import { type FollowOptions, followStream, type StreamItem } from "../../src/streaming/follow-stream.js";
import { StreamHub } from "../../src/streaming/live-feed.js";
import { streamingMetrics } from "../../src/streaming/metrics.js";
import { StreamDemux } from "../../src/streaming/stream-demux.js";
import { allRunEventsSource, runEventSource, type StreamSource } from "../../src/streaming/stream-source.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type FaultyProxy, startFaultyProxy } from "./support/tcp-proxy.js";

let db: TestDatabase;
let proxy: FaultyProxy;
let pool: pg.Pool;
let store: PostgresEventStore;
let demux: StreamDemux;
const hub = new StreamHub({ retryInitialMs: 20, retryMaxMs: 200, existsCheckMs: 50 });

const options = (signal: AbortSignal, overrides: Partial<FollowOptions> = {}): FollowOptions => ({
  signal,
  kind: "test",
  maxBufferedEvents: 1_000,
  maxDurationMs: 60_000,
  retryInitialMs: 20,
  retryMaxMs: 200,
  pageSize: 50,
  ...overrides,
});

async function append(runId: string, count: number): Promise<void> {
  await store.appendToStream(
    runStreamName(runId),
    Array.from({ length: count }, (_, index) => ({
      id: randomUUID(),
      type: "Tick",
      data: { index },
      occurredAt: new Date(),
    })),
  );
}

/** Pulls items until `until` says stop (or the stream ends), leaving the stream open. */
async function collect(
  stream: AsyncGenerator<StreamItem>,
  until: (items: StreamItem[]) => boolean,
): Promise<StreamItem[]> {
  const items: StreamItem[] = [];
  for (;;) {
    const next = await stream.next();
    if (next.done) return items;
    items.push(next.value);
    if (until(items)) return items;
  }
}

const revisions = (items: StreamItem[]) =>
  items.flatMap((item) => (item.kind === "event" ? [item.event.revision] : []));
const lastRevision = (target: number) => (items: StreamItem[]) => revisions(items).at(-1) === target;

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = await startFaultyProxy(target.hostname, Number(target.port));
  pool = new pg.Pool({ connectionString: proxy.urlFor(db.url), max: 10, connectionTimeoutMillis: 1_000 });
  pool.on("error", () => undefined);
  store = await PostgresEventStore.create(pool, { pollIntervalMs: 100 });
  demux = new StreamDemux(store, RUN_STREAM_PREFIX);
});

afterAll(async () => {
  hub.close();
  await store.close();
  await pool.end();
  await proxy.close();
  await db.drop();
});

type RunSource = (runId: string, exists?: () => Promise<boolean>) => StreamSource<number>;
/** Every run-stream behaviour holds whichever way the live feed follows the store. */
const liveFollowers: [string, RunSource][] = [
  ["a store subscription of its own", (runId, exists) => runEventSource(store, runId, exists)],
  ["the shared run-streams subscription", (runId, exists) => runEventSource(store, runId, exists, demux)],
];

describe.each(liveFollowers)("followStream, live through %s", (_how, runSource) => {
  it("catches up then goes live without gap or repeat while events are appended, on one shared feed", async () => {
    const runId = randomUUID();
    await append(runId, 120);
    const readBefore = (await streamingMetrics.feedEventsRead.get()).values[0]?.value ?? 0;
    const total = 420;
    const writer = (async () => {
      for (let appended = 120; appended < total; appended += 10) {
        await append(runId, 10);
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
    })();
    const subscribers = Array.from({ length: 25 }, async (_, index) => {
      await new Promise((resolve) => setTimeout(resolve, index * 4));
      const start = ((index * 37) % 150) - 1;
      const controller = new AbortController();
      const items = await collect(
        followStream(hub, runSource(runId), start, options(controller.signal)),
        lastRevision(total - 1),
      );
      controller.abort();
      assert.deepEqual(
        revisions(items),
        Array.from({ length: total - 1 - start }, (_, offset) => start + 1 + offset),
      );
    });
    await Promise.all([writer, ...subscribers]);
    const readAfter = (await streamingMetrics.feedEventsRead.get()).values[0]?.value ?? 0;
    // One feed read the live events once, not once per subscriber.
    assert.ok(readAfter - readBefore <= total, `feed read ${readAfter - readBefore} events`);
    assert.equal(hub.size, 0);
  });

  it("follows all runs in the global order from a position", async () => {
    const [first, second] = [randomUUID(), randomUUID()];
    await append(first, 3);
    const controller = new AbortController();
    const stream = followStream(hub, allRunEventsSource(store), null, options(controller.signal));
    const seen: StoredEvent[] = [];
    const done = collect(stream, (items) => {
      const events = items.flatMap((item) => (item.kind === "event" ? [item.event] : []));
      seen.splice(0, seen.length, ...events);
      return events.filter((event) => event.streamName === runStreamName(second)).length === 2;
    });
    await append(second, 2);
    await done;
    controller.abort();
    const positions = seen.map((event) => event.position);
    assert.deepEqual(positions, [...positions].sort());
    assert.equal(new Set(positions).size, positions.length);
  });

  it("ends a slow consumer past its buffer bound, and it resumes from its cursor", async () => {
    const runId = randomUUID();
    await append(runId, 2);
    const controller = new AbortController();
    const stream = followStream(
      hub,
      runSource(runId),
      -1,
      options(controller.signal, { maxBufferedEvents: 5 }),
    );
    const first = await collect(stream, lastRevision(1));
    // Go live (the pull waits for the next event), then stop pulling while 20 events arrive.
    const waiting = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await append(runId, 20);
    const next = await waiting;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rest: StreamItem[] = next.done ? [] : [next.value];
    for await (const item of stream) rest.push(item);
    assert.deepEqual(rest.at(-1), {
      kind: "end",
      reason: "slow-consumer",
      message: "more than 5 events waiting: resume from the last cursor",
    });
    assert.ok(revisions(rest).length <= 6, `${revisions(rest).length} events after going live`);
    const delivered = [...revisions(first), ...revisions(rest)];
    const resumed = await collect(
      followStream(hub, runSource(runId), delivered.at(-1) ?? -1, options(controller.signal)),
      lastRevision(21),
    );
    controller.abort();
    assert.deepEqual(
      [...delivered, ...revisions(resumed)],
      Array.from({ length: 22 }, (_, index) => index),
    );
  });

  it("stops all work promptly when the client goes away, even while waiting", async () => {
    const runId = randomUUID();
    await append(runId, 1);
    const gauge = async () =>
      (await streamingMetrics.activeSubscriptions.get()).values.find((value) => value.labels.kind === "test")
        ?.value ?? 0;
    const before = await gauge();
    const controller = new AbortController();
    const stream = followStream(hub, runSource(runId), -1, options(controller.signal));
    await collect(stream, lastRevision(0));
    const pending = stream.next();
    assert.equal(await gauge(), before + 1);
    assert.equal(hub.size, 1);
    controller.abort();
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.equal(await gauge(), before);
    assert.equal(hub.size, 0);
  });

  it("completes cleanly after the maximum duration", async () => {
    const runId = randomUUID();
    await append(runId, 1);
    const items: StreamItem[] = [];
    const started = Date.now();
    for await (const item of followStream(
      hub,
      runSource(runId),
      -1,
      options(new AbortController().signal, { maxDurationMs: 200 }),
    )) {
      items.push(item);
    }
    assert.deepEqual(revisions(items), [0]);
    assert.equal(items.length, 1);
    assert.ok(Date.now() - started < 2_000);
  });

  it("reports a deleted subject as gone, then ends", async () => {
    const runId = randomUUID();
    await append(runId, 1);
    let exists = true;
    const stream = followStream(
      hub,
      runSource(runId, async () => exists),
      -1,
      options(new AbortController().signal),
    );
    const first = await collect(stream, lastRevision(0));
    exists = false;
    const rest: StreamItem[] = [];
    for await (const item of stream) rest.push(item);
    assert.deepEqual(revisions(first), [0]);
    assert.deepEqual(rest, [{ kind: "end", reason: "gone", message: "the run no longer exists" }]);
  });

  it("tells subscribers when the store is down, retries with capped backoff, and recovers without loss or repeat", async () => {
    const runId = randomUUID();
    await append(runId, 5);
    const writerPool = new pg.Pool({ connectionString: db.url, max: 2 });
    const writer = await PostgresEventStore.create(writerPool);
    const subscribers = [-1, 2, 4].map((start) => {
      const stream = followStream(hub, runSource(runId), start, options(new AbortController().signal));
      return { start, stream, items: [] as StreamItem[] };
    });
    const pulls = subscribers.map(async (subscriber) => {
      for await (const item of subscriber.stream) {
        subscriber.items.push(item);
        if (revisions(subscriber.items).at(-1) === 14) break;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await proxy.down();
    // Appended straight to the database while the proxy (the subscribers' only way in) is down.
    await writer.appendToStream(
      runStreamName(runId),
      Array.from({ length: 10 }, (_, index) => ({
        id: randomUUID(),
        type: "Tick",
        data: { index },
        occurredAt: new Date(),
      })),
    );
    await new Promise((resolve) => setTimeout(resolve, 800));
    const connectionsWhileDown = proxy.connections;
    await proxy.up();
    await Promise.all(pulls);
    await writer.close();
    await writerPool.end();
    assert.equal(connectionsWhileDown, 0);
    for (const subscriber of subscribers) {
      const notices = subscriber.items.filter((item) => item.kind === "unavailable");
      assert.ok(notices.length >= 1, "an error event with retry guidance");
      const delays = notices.map((item) => (item.kind === "unavailable" ? item.retryAfterMs : 0));
      assert.ok(delays.every((delay) => delay > 0 && delay <= 200));
      // Fewer notices than an uncapped 20 ms loop would produce in 800 ms: the backoff grows.
      assert.ok(notices.length < 15, `${notices.length} notices`);
      assert.deepEqual(
        revisions(subscriber.items),
        Array.from({ length: 14 - subscriber.start }, (_, offset) => subscriber.start + 1 + offset),
      );
    }
  });
});

describe("StreamHub", () => {
  it("checks that the subjects of all its feeds exist at the same moment (one batch for the database)", async () => {
    const runs = Array.from({ length: 40 }, () => randomUUID());
    await Promise.all(runs.map((runId) => append(runId, 1)));
    const checkingHub = new StreamHub({ retryInitialMs: 20, retryMaxMs: 200, existsCheckMs: 100 });
    // A macrotask counter: checks made in one timer callback all see the same turn.
    let turn = 0;
    const ticking = setInterval(() => turn++, 1);
    const turnsChecked: number[][] = runs.map(() => []);
    const controller = new AbortController();
    try {
      const streams = runs.map((runId, index) =>
        followStream(
          checkingHub,
          runEventSource(store, runId, async () => {
            turnsChecked[index]?.push(turn);
            return true;
          }),
          -1,
          options(controller.signal),
        ),
      );
      await Promise.all(streams.map((stream) => collect(stream, lastRevision(0))));
      await new Promise((resolve) => setTimeout(resolve, 350));
      const rounds = turnsChecked.map((turns) => turns.length);
      assert.ok(Math.min(...rounds) >= 2, `checked ${rounds.join(",")} times`);
      for (let round = 0; round < 2; round++)
        assert.equal(new Set(turnsChecked.map((turns) => turns[round])).size, 1, `round ${round}`);
    } finally {
      clearInterval(ticking);
      controller.abort();
      checkingHub.close();
    }
  });
});
