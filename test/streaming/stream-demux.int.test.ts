import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { describe, it } from "vitest";
import type { ReadAllOptions, StoredEvent } from "../../src/event-store/event-store.js";
import type { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";
import { RUN_STREAM_PREFIX, runStreamName } from "../../src/runs/events.js";
import { streamingMetrics } from "../../src/streaming/metrics.js";
import { StreamDemux } from "../../src/streaming/stream-demux.js";
import { useTestStore } from "../support/database.js";
import { appendProgress } from "./support/running-run.js";

let store: PostgresEventStore;
useTestStore((made) => {
  store = made.store;
});

const append = (runId: string, count: number) => appendProgress(store, runId, count);

/** Revisions a follower receives until it has `last`. */
async function revisionsUntil(events: AsyncIterable<StoredEvent>, last: number): Promise<number[]> {
  const seen: number[] = [];
  for await (const event of events) {
    seen.push(event.revision);
    if (event.revision >= last) break;
  }
  return seen;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const gauge = async () => (await streamingMetrics.storeSubscriptions.get()).values[0]?.value ?? 0;

describe("StreamDemux: every run's live events through one store subscription", () => {
  it("serves 200 runs followed at once, each in order, without gap or repeat, with one subscription", async () => {
    const runs = Array.from({ length: 200 }, () => randomUUID());
    await Promise.all(runs.map((runId) => append(runId, 2)));
    // Counts the store reads of all streams: the shared subscription's, not one per run.
    let allReads = 0;
    const readAll = store.readAll.bind(store);
    store.readAll = (options?: ReadAllOptions) => {
      allReads++;
      return readAll(options);
    };
    const demux = new StreamDemux(store, RUN_STREAM_PREFIX);
    const controller = new AbortController();
    // One signal for 200 followers (each adds its listener): not a leak.
    setMaxListeners(0, controller.signal);
    try {
      const followers = runs.map((runId, index) =>
        revisionsUntil(demux.follow(runStreamName(runId), index % 3 === 0 ? -1 : 1, controller.signal), 11),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await gauge(), 1);
      for (let round = 0; round < 10; round++) await Promise.all(runs.map((runId) => append(runId, 1)));
      const received = await Promise.all(followers);
      for (const [index, revisions] of received.entries())
        assert.deepEqual(revisions, range(index % 3 === 0 ? 0 : 2, 11));
      // 2,000 events of 200 runs: a few pages of the shared subscription, not 2,000 reads.
      assert.ok(allReads < 200, `${allReads} reads of all streams`);
    } finally {
      store.readAll = readAll;
      controller.abort();
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(demux.followed, 0);
    assert.equal(await gauge(), 0);
  });

  it("hands over from a follower's own read to the shared subscription without gap or repeat, under racing appends", async () => {
    const runId = randomUUID();
    const demux = new StreamDemux(store, RUN_STREAM_PREFIX);
    const total = 300;
    const writer = (async () => {
      for (let appended = 0; appended < total; appended += 3) {
        await append(runId, 3);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    // Followers join at every moment of the writes, from every kind of cursor.
    const followers = Array.from({ length: 30 }, async (_, index) => {
      await new Promise((resolve) => setTimeout(resolve, index * 7));
      const after = (await store.streamRevision(runStreamName(runId))) ?? -1;
      const from = index % 2 === 0 ? after : Math.max(-1, after - 10);
      const controller = new AbortController();
      const revisions = await revisionsUntil(
        demux.follow(runStreamName(runId), from, controller.signal),
        total - 1,
      );
      controller.abort();
      assert.deepEqual(revisions, range(from + 1, total - 1));
    });
    await Promise.all([writer, ...followers]);
  });

  it("reads from the store again what it let go when a follower fell behind, losing nothing", async () => {
    const runId = randomUUID();
    const demux = new StreamDemux(store, RUN_STREAM_PREFIX, { maxQueuedEvents: 3 });
    const controller = new AbortController();
    const events = demux.follow(runStreamName(runId), -1, controller.signal)[Symbol.asyncIterator]();
    await append(runId, 1);
    assert.equal((await events.next()).value?.revision, 0);
    // The follower pulls nothing while 20 events arrive in separate appends (its queue holds 3).
    for (let i = 0; i < 20; i++) await append(runId, 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rest: number[] = [];
    while (rest.at(-1) !== 20) rest.push((await events.next()).value?.revision);
    controller.abort();
    assert.deepEqual(rest, range(1, 20));
  });

  it("refuses a stream outside its prefix", async () => {
    const demux = new StreamDemux(store, RUN_STREAM_PREFIX);
    const events = demux.follow("other-1", -1, new AbortController().signal)[Symbol.asyncIterator]();
    await assert.rejects(events.next(), /not under run-/);
  });
});
