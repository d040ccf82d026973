import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, test } from "vitest";
import {
  DuplicateEventIdError,
  type EventStore,
  type ExpectedRevision,
  InvalidPositionError,
  WrongExpectedRevisionError,
} from "../../src/event-store/event-store.js";
import {
  assertIncreasingPositions,
  newEvent,
  newEvents,
  readAllWithPrefix,
  Subscriber,
  sleep,
  uniqueName,
} from "./support.js";

export interface OpenedStore {
  store: EventStore;
  cleanup(): Promise<void>;
}

/**
 * What every EventStore backend must do, written against the interface only, so the same suite runs
 * on PostgreSQL and on EventStoreDB/KurrentDB. Every test works in streams of its own (unique names),
 * so the store may be shared with other tests and hold other data.
 */
export interface ContractCapabilities {
  /**
   * Event ids are unique across all streams (PostgreSQL). EventStoreDB keeps them unique per stream
   * only; runstream derives ids from the stream name, so it does not rely on this.
   */
  globallyUniqueEventIds: boolean;
  /** Each `open()` gives a store of its own, empty (PostgreSQL: a fresh database); not a shared server. */
  opensEmpty?: boolean;
}

export function describeEventStoreContract(
  label: string,
  open: () => Promise<OpenedStore>,
  capabilities: ContractCapabilities = { globallyUniqueEventIds: true, opensEmpty: true },
): void {
  describe(`EventStore contract: ${label}`, () => {
    let opened: OpenedStore;
    let store: EventStore;
    beforeAll(async () => {
      opened = await open();
      store = opened.store;
    });
    afterAll(async () => opened?.cleanup());

    describe("expected revision", () => {
      const rejects = async (stream: string, expected: ExpectedRevision, actual: number | null) => {
        const before = await store.readStream(stream);
        await assert.rejects(
          store.appendToStream(stream, [newEvent()], { expectedRevision: expected }),
          (error: unknown) => {
            assert.ok(error instanceof WrongExpectedRevisionError, `got ${String(error)}`);
            assert.equal(error.streamName, stream);
            assert.equal(error.expected, expected);
            assert.equal(error.actual, actual);
            return true;
          },
        );
        assert.deepEqual(await store.readStream(stream), before, "a failed append wrote nothing");
        assert.equal(await store.streamRevision(stream), actual);
      };

      test("any appends whether or not the stream exists", async () => {
        const stream = uniqueName("any-");
        const first = await store.appendToStream(stream, [newEvent()], { expectedRevision: "any" });
        assert.equal(first.nextExpectedRevision, 0);
        assert.equal(first.appended, true);
        const second = await store.appendToStream(stream, newEvents(2));
        assert.equal(second.nextExpectedRevision, 2);
        assert.deepEqual(
          (await store.readStream(stream)).map((event) => event.revision),
          [0, 1, 2],
          "revisions have no gaps",
        );
      });

      test("no_stream appends only to a stream without events", async () => {
        const stream = uniqueName("nostream-");
        const result = await store.appendToStream(stream, newEvents(2), { expectedRevision: "no_stream" });
        assert.equal(result.nextExpectedRevision, 1);
        await rejects(stream, "no_stream", 1);
      });

      test("stream_exists appends only to a stream with events", async () => {
        const stream = uniqueName("exists-");
        await rejects(stream, "stream_exists", null);
        await store.appendToStream(stream, [newEvent()]);
        const result = await store.appendToStream(stream, [newEvent()], {
          expectedRevision: "stream_exists",
        });
        assert.equal(result.nextExpectedRevision, 1);
      });

      test("an exact revision must be the stream's last revision", async () => {
        const stream = uniqueName("exact-");
        await rejects(stream, 0, null);
        await store.appendToStream(stream, newEvents(3), { expectedRevision: "no_stream" });
        await rejects(stream, 1, 2);
        await rejects(stream, 3, 2);
        const result = await store.appendToStream(stream, [newEvent()], { expectedRevision: 2 });
        assert.equal(result.nextExpectedRevision, 3);
        await rejects(stream, 2, 3);
      });
    });

    describe("idempotent append", () => {
      test("the same append retried succeeds and stores nothing twice", async () => {
        const stream = uniqueName("idem-");
        const events = newEvents(3);
        const first = await store.appendToStream(stream, events, { expectedRevision: "no_stream" });
        const retried = await store.appendToStream(stream, events, { expectedRevision: "no_stream" });
        assert.equal(first.appended, true);
        assert.equal(retried.appended, false);
        assert.equal(retried.nextExpectedRevision, first.nextExpectedRevision);
        assert.equal(retried.position, first.position);
        const stored = await store.readStream(stream);
        assert.deepEqual(
          stored.map((event) => event.id),
          events.map((event) => event.id),
        );
      });

      test("a retry after later appends still succeeds without duplicates", async () => {
        const stream = uniqueName("idem-late-");
        const events = newEvents(2);
        await store.appendToStream(stream, events, { expectedRevision: "no_stream" });
        await store.appendToStream(stream, [newEvent()], { expectedRevision: 1 });
        const retried = await store.appendToStream(stream, events, { expectedRevision: "no_stream" });
        assert.equal(retried.appended, false);
        assert.equal((await store.readStream(stream)).length, 3);
      });

      test("ids already stored in another stream fail the append and write nothing", async (context) => {
        if (!capabilities.globallyUniqueEventIds) context.skip("ids are unique per stream only");
        const stream = uniqueName("idem-a-");
        const other = uniqueName("idem-b-");
        const events = newEvents(2);
        await store.appendToStream(stream, events);
        await assert.rejects(store.appendToStream(other, [newEvent(), ...events]), (error: unknown) => {
          assert.ok(error instanceof DuplicateEventIdError, `got ${String(error)}`);
          assert.equal(error.streamName, other);
          return true;
        });
        assert.deepEqual(await store.readStream(other), []);
        assert.equal(await store.streamRevision(other), null);
        assert.equal((await store.readStream(stream)).length, 2);
      });

      test("an append mixing stored and new ids fails and writes nothing", async () => {
        const stream = uniqueName("idem-mix-");
        const stored = newEvent();
        await store.appendToStream(stream, [stored]);
        await assert.rejects(store.appendToStream(stream, [stored, newEvent()]), DuplicateEventIdError);
        assert.equal(await store.streamRevision(stream), 0);
      });
    });

    describe("reads", () => {
      test("readStream reads forward from any revision, at most maxCount", async () => {
        const stream = uniqueName("read-");
        const events = newEvents(10);
        await store.appendToStream(stream, events.slice(0, 4));
        await store.appendToStream(stream, events.slice(4));
        const all = await store.readStream(stream);
        assert.deepEqual(
          all.map((event) => [event.id, event.revision, event.streamName, event.type]),
          events.map((event, index) => [event.id, index, stream, "Tested"]),
        );
        assert.deepEqual(all[7]?.data, { index: 7 });
        assert.deepEqual(all[7]?.metadata, {});
        assert.ok(all[7]?.occurredAt instanceof Date);
        const revisions = (options: { after?: number; maxCount?: number }) =>
          store.readStream(stream, options).then((read) => read.map((event) => event.revision));
        assert.deepEqual(await revisions({ after: 6 }), [7, 8, 9]);
        assert.deepEqual(await revisions({ after: -1, maxCount: 2 }), [0, 1]);
        assert.deepEqual(await revisions({ after: 3, maxCount: 3 }), [4, 5, 6]);
        assert.deepEqual(await revisions({ after: 9 }), []);
        assert.deepEqual(await store.readStream(uniqueName("missing-")), []);
      });

      test("metadata and data round-trip", async () => {
        const stream = uniqueName("meta-");
        const occurredAt = new Date("2026-01-02T03:04:05.678Z");
        const data = { nested: { list: [1, "two", null, true] }, text: "ünïcode ✓" };
        await store.appendToStream(stream, [
          { id: crypto.randomUUID(), type: "Meta", data, metadata: { by: "test" }, occurredAt },
        ]);
        const [event] = await store.readStream(stream);
        assert.deepEqual(event?.data, data);
        assert.deepEqual(event?.metadata, { by: "test" });
        assert.equal(event?.occurredAt.toISOString(), occurredAt.toISOString());
      });

      test("readAll reads all streams in global order from a position (exclusive)", async () => {
        const prefix = uniqueName("all-");
        const appended: string[] = [];
        for (let round = 0; round < 4; round++) {
          for (const name of ["a", "b", "c"]) {
            const events = newEvents(round % 2 === 0 ? 1 : 2);
            await store.appendToStream(`${prefix}${name}`, events);
            appended.push(...events.map((event) => event.id));
          }
        }
        await store.appendToStream(uniqueName("elsewhere-"), [newEvent()]);
        const all = await readAllWithPrefix(store, prefix, appended.length);
        assert.deepEqual(
          all.map((event) => event.id),
          appended,
          "global order is append order, filtered by prefix",
        );
        assertIncreasingPositions(all);
        for (const cut of [0, 5, 10]) {
          const after = all[cut]?.position as string;
          const page = await store.readAll({ after, streamPrefix: prefix, maxCount: 4 });
          assert.deepEqual(
            page.map((event) => event.id),
            appended.slice(cut + 1, cut + 5),
          );
        }
        const last = all.at(-1)?.position as string;
        assert.deepEqual(await store.readAll({ after: last, streamPrefix: prefix }), []);
      });

      test("readAll's position matches the append result's position", async () => {
        const prefix = uniqueName("pos-");
        const result = await store.appendToStream(`${prefix}x`, newEvents(3));
        const all = await readAllWithPrefix(store, prefix, 3);
        assert.equal(all.at(-1)?.position, result.position);
      });

      test("a position the store handed out normalizes to itself; anything else is InvalidPositionError", async () => {
        const prefix = uniqueName("norm-");
        const { position } = await store.appendToStream(`${prefix}x`, newEvents(2));
        assert.equal(await store.normalizePosition(position), position);
        for (const bad of [
          "",
          "junk",
          "7fffffffffffffff-7fffffffffffffff-1",
          "ffffffffffffffffff",
          "12 34",
          "8000000000000000",
        ]) {
          await assert.rejects(store.normalizePosition(bad), InvalidPositionError, JSON.stringify(bad));
        }
        // readAll refuses the same way (callers match the class, not a backend's name for it).
        await assert.rejects(store.readAll({ after: "junk", maxCount: 1 }), InvalidPositionError);
      });

      test("maxBytes ends a page early, after at least one event", async () => {
        const prefix = uniqueName("bytes-");
        const big = { blob: "x".repeat(50_000) };
        const events = newEvents(6).map((event) => ({ ...event, data: big }));
        await store.appendToStream(`${prefix}x`, events);
        const one = await store.readAll({ streamPrefix: prefix, maxCount: 10, maxBytes: 1 });
        assert.equal(one.length, 1, "at least one event, even over the limit");
        const some = await store.readAll({ streamPrefix: prefix, maxCount: 10, maxBytes: 120_000 });
        assert.ok(some.length >= 2 && some.length <= 3, `about 120 kB of 50 kB events: got ${some.length}`);
        assert.deepEqual(
          some.map((event) => event.id),
          events.slice(0, some.length).map((event) => event.id),
        );
        const all = await store.readAll({ streamPrefix: prefix, maxCount: 10 });
        assert.equal(all.length, 6);
      });

      test("countEvents, when the store has it, counts a prefix's events", async (context) => {
        if (!store.countEvents) return context.skip("this backend does not count events");
        const prefix = uniqueName("count-");
        await store.appendToStream(`${prefix}a`, newEvents(3));
        await store.appendToStream(`${prefix}b`, newEvents(2));
        assert.equal(await store.countEvents(prefix), 5);
      });

      test("streamRevision is null without events, then the last revision", async () => {
        const stream = uniqueName("rev-");
        assert.equal(await store.streamRevision(stream), null);
        await store.appendToStream(stream, newEvents(3));
        assert.equal(await store.streamRevision(stream), 2);
        await store.appendToStream(stream, [newEvent()]);
        assert.equal(await store.streamRevision(stream), 3);
      });

      test("headPosition is the last event's position: no event lies beyond it", async () => {
        const prefix = uniqueName("head-");
        await store.appendToStream(`${prefix}a`, newEvents(2));
        const { position } = await store.appendToStream(`${prefix}b`, newEvents(3));
        const head = await store.headPosition();
        assert.ok(head !== null && head >= position, `head ${head} before the last append ${position}`);
        assert.equal(await store.normalizePosition(head), head, "the head is one of this store's positions");
        assert.deepEqual(await store.readAll({ after: head, streamPrefix: prefix }), []);
        // Later appends move it on.
        const later = await store.appendToStream(`${prefix}a`, [newEvent()]);
        const moved = await store.headPosition();
        assert.ok(moved !== null && moved >= later.position && moved > head);
      });

      test("headPosition is null on an empty store, then the position of its only event", async (context) => {
        if (!capabilities.opensEmpty)
          return context.skip("open() returns a shared store that holds other data");
        const fresh = await open();
        try {
          assert.equal(await fresh.store.headPosition(), null);
          const { position } = await fresh.store.appendToStream(uniqueName("first-"), [newEvent()]);
          assert.equal(await fresh.store.headPosition(), position);
        } finally {
          await fresh.cleanup();
        }
      });
    });

    describeSubscriptions(() => store);
  });
}

function describeSubscriptions(getStore: () => EventStore): void {
  describe("subscriptions", () => {
    test("subscribeToStream: stored events after a revision, then live ones, each once", async () => {
      const store = getStore();
      const stream = uniqueName("sub-");
      await store.appendToStream(stream, newEvents(5));
      const subscriber = new Subscriber((signal) => store.subscribeToStream(stream, { after: 1, signal }));
      try {
        await subscriber.waitFor(3);
        await store.appendToStream(uniqueName("other-"), [newEvent()]);
        for (let index = 0; index < 4; index++) await store.appendToStream(stream, [newEvent()]);
        await subscriber.waitFor(7);
        await sleep(150);
      } finally {
        await subscriber.stop();
      }
      assert.deepEqual(
        subscriber.events.map((event) => event.revision),
        [2, 3, 4, 5, 6, 7, 8],
      );
      assert.ok(subscriber.events.every((event) => event.streamName === stream));
    });

    test("subscribeToStream from the start of a stream that does not exist yet", async () => {
      const store = getStore();
      const stream = uniqueName("sub-new-");
      const subscriber = new Subscriber((signal) => store.subscribeToStream(stream, { signal }));
      try {
        await sleep(50);
        await store.appendToStream(stream, newEvents(2), { expectedRevision: "no_stream" });
        await subscriber.waitFor(2);
      } finally {
        await subscriber.stop();
      }
      assert.deepEqual(
        subscriber.events.map((event) => event.revision),
        [0, 1],
      );
    });

    test("subscribeToAll: catch-up, appends during catch-up, then live, in order, each once", async () => {
      const store = getStore();
      const prefix = uniqueName("suball-");
      const expected: string[] = [];
      const append = async (stream: string, count: number) => {
        const events = newEvents(count);
        await store.appendToStream(`${prefix}${stream}`, events);
        expected.push(...events.map((event) => event.id));
      };
      for (let index = 0; index < 12; index++) await append(`s${index % 3}`, 60);
      const subscriber = new Subscriber((signal) =>
        store.subscribeToAll({ after: null, streamPrefix: prefix, signal }),
      );
      try {
        // Appends racing the catch-up: the subscriber is somewhere in the stored events.
        await subscriber.waitFor(1);
        for (let index = 0; index < 10; index++) await append(`s${index % 4}`, 3);
        await subscriber.waitFor(expected.length);
        // Live.
        await append("live", 1);
        await Promise.all([append("live-a", 2), append("live-b", 2)]);
        await subscriber.waitFor(expected.length);
        await sleep(150);
      } finally {
        await subscriber.stop();
      }
      const received = subscriber.events;
      assert.equal(received.length, expected.length, "no event twice");
      assert.deepEqual(new Set(received.map((event) => event.id)), new Set(expected));
      assertIncreasingPositions(received);
      assert.deepEqual(
        received.slice(0, 720 + 30).map((event) => event.id),
        expected.slice(0, 750),
        "sequential appends arrive in append order",
      );
      assert.ok(received.every((event) => event.streamName.startsWith(prefix)));
    });

    test("subscribeToAll after a position starts right after it", async () => {
      const store = getStore();
      const prefix = uniqueName("suball-pos-");
      await store.appendToStream(`${prefix}a`, newEvents(4));
      const stored = await readAllWithPrefix(store, prefix, 4);
      const subscriber = new Subscriber((signal) =>
        store.subscribeToAll({ after: stored[1]?.position as string, streamPrefix: prefix, signal }),
      );
      try {
        await subscriber.waitFor(2);
        await store.appendToStream(`${prefix}b`, [newEvent()]);
        await subscriber.waitFor(3);
        await sleep(100);
      } finally {
        await subscriber.stop();
      }
      assert.deepEqual(
        subscriber.events.map((event) => event.id),
        [stored[2]?.id, stored[3]?.id, subscriber.events[2]?.id],
      );
      assert.equal(subscriber.events[2]?.streamName, `${prefix}b`);
    });

    test("aborting ends an idle or busy subscription promptly", async () => {
      const store = getStore();
      const prefix = uniqueName("abort-");
      const idleAll = new Subscriber((signal) => store.subscribeToAll({ streamPrefix: prefix, signal }));
      const idleStream = new Subscriber((signal) => store.subscribeToStream(`${prefix}x`, { signal }));
      await sleep(100);
      assert.ok((await idleAll.stop()) < 300, "idle subscribeToAll ended promptly");
      assert.ok((await idleStream.stop()) < 300, "idle subscribeToStream ended promptly");

      await store.appendToStream(`${prefix}busy`, newEvents(200));
      const busy = new Subscriber((signal) => store.subscribeToStream(`${prefix}busy`, { signal }));
      await busy.waitFor(1);
      assert.ok((await busy.stop()) < 300, "busy subscription ended promptly");
      assert.ok(busy.events.length <= 200);

      const aborted = new AbortController();
      aborted.abort();
      const none: unknown[] = [];
      for await (const event of store.subscribeToAll({ streamPrefix: prefix, signal: aborted.signal })) {
        none.push(event);
      }
      assert.deepEqual(none, [], "an already aborted signal yields nothing");
    });
  });
}
