import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { EventStoreUnavailableError, type StoredEvent } from "../../src/event-store/event-store.js";
import { type FollowOptions, followStream, type StreamItem } from "../../src/streaming/follow-stream.js";
import { StreamHub } from "../../src/streaming/live-feed.js";
import type { StreamSource } from "../../src/streaming/stream-source.js";

const PAGE = 10;

const eventAt = (revision: number): StoredEvent => ({
  id: `e${revision}`,
  streamName: "run-x",
  revision,
  position: String(revision).padStart(10, "0"),
  type: "Tick",
  data: {},
  metadata: {},
  occurredAt: new Date(0),
});

/**
 * A stored stream of `count` events in memory, recording each read; `failRead(n)` makes the n-th
 * read (1-based) fail, or wait for `gate` first. Nothing is ever appended: `follow` only waits.
 */
function memorySource(count: number, plan: { failRead?: number; gate?: Promise<void> } = {}) {
  const reads: number[] = [];
  const source: StreamSource<number> = {
    key: `memory-${Math.random()}`,
    start: -1,
    cursorOf: (event) => event.revision,
    isAfter: (a, b) => a > b,
    async read(after, maxCount) {
      reads.push(after);
      if (reads.length === plan.failRead) {
        await plan.gate;
        throw new EventStoreUnavailableError("database down");
      }
      const first = after + 1;
      return Array.from({ length: Math.max(0, Math.min(maxCount, count - first)) }, (_, i) =>
        eventAt(first + i),
      );
    },
    async *follow(_after, signal) {
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    },
  };
  return { source, reads };
}

const options = (signal: AbortSignal): FollowOptions => ({
  signal,
  kind: "test",
  maxBufferedEvents: 1_000,
  maxDurationMs: 60_000,
  retryInitialMs: 5,
  retryMaxMs: 20,
  pageSize: PAGE,
});

const revisions = (items: StreamItem[]) =>
  items.flatMap((item) => (item.kind === "event" ? [item.event.revision] : []));

async function take(stream: AsyncGenerator<StreamItem>, count: number): Promise<StreamItem[]> {
  const items: StreamItem[] = [];
  while (revisions(items).length < count) {
    const next = await stream.next();
    if (next.done) break;
    items.push(next.value);
  }
  return items;
}

describe("catch-up paging", () => {
  it("reads the next page while the current one is delivered, and delivers every event once in order", async () => {
    const hub = new StreamHub({ retryInitialMs: 5, retryMaxMs: 20, existsCheckMs: 60_000 });
    const { source, reads } = memorySource(35);
    const controller = new AbortController();
    const stream = followStream(hub, source, 4, options(controller.signal));
    const first = await take(stream, 1);
    assert.deepEqual(revisions(first), [5]);
    // The first page (5..14) is full: the read of the next one is already under way.
    assert.deepEqual(reads, [4, 14]);
    const rest = await take(stream, 29);
    assert.deepEqual(
      revisions([...first, ...rest]),
      Array.from({ length: 30 }, (_, i) => 5 + i),
    );
    // 25..34 was a full page too: the read after it (empty) ends the catch-up.
    assert.deepEqual(reads, [4, 14, 24, 34]);
    controller.abort();
    assert.equal((await stream.next()).done, true);
    assert.equal(hub.size, 0);
  });

  it("reports a failed read-ahead as unavailable, then resumes from its cursor without loss or repeat", async () => {
    const hub = new StreamHub({ retryInitialMs: 5, retryMaxMs: 20, existsCheckMs: 60_000 });
    const { source, reads } = memorySource(25, { failRead: 2 });
    const controller = new AbortController();
    const stream = followStream(hub, source, -1, options(controller.signal));
    const items = await take(stream, 25);
    controller.abort();
    const kinds = items.map((item) => item.kind);
    assert.equal(kinds.filter((kind) => kind === "unavailable").length, 1);
    // The failure surfaces after the first page, which was delivered whole.
    assert.equal(kinds.indexOf("unavailable"), PAGE);
    assert.deepEqual(
      revisions(items),
      Array.from({ length: 25 }, (_, i) => i),
    );
    assert.deepEqual(reads, [-1, 9, 9, 19]);
  });

  it("leaves no unhandled rejection when the stream stops while its read-ahead fails", async () => {
    const hub = new StreamHub({ retryInitialMs: 5, retryMaxMs: 20, existsCheckMs: 60_000 });
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { source, reads } = memorySource(30, { failRead: 2, gate });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const controller = new AbortController();
      const stream = followStream(hub, source, -1, options(controller.signal));
      await take(stream, 3);
      assert.equal(reads.length, 2);
      controller.abort();
      await stream.return(undefined);
      release();
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(unhandled, []);
      assert.equal(hub.size, 0);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
