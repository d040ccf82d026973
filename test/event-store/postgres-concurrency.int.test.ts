import assert from "node:assert/strict";
import { describe, test } from "vitest";
import {
  DuplicateEventIdError,
  type StoredEvent,
  WrongExpectedRevisionError,
} from "../../src/event-store/event-store.js";
import type { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";
import { type TestDatabase, useTestStore } from "../support/database.js";
import {
  appendInTransaction,
  assertIncreasingPositions,
  newEvent,
  newEvents,
  readAllWithPrefix,
  Subscriber,
  sleep,
  uniqueName,
} from "./support.js";

let db: TestDatabase;
let store: PostgresEventStore;
useTestStore((made) => {
  ({ db, store } = made);
});

const random = (max: number) => Math.floor(Math.random() * max);

describe("many concurrent writers, some committing late or rolling back", () => {
  test("an all-streams subscriber sees every committed event once, in a consistent order", async () => {
    const prefix = uniqueName("conc-");
    const streams = Array.from({ length: 16 }, (_, index) => `${prefix}${index}`);
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    const live = new Subscriber((signal) => store.subscribeToAll({ streamPrefix: prefix, signal }));

    const writer = async () => {
      for (let op = 0; op < 20; op++) {
        const stream = streams[random(streams.length)] as string;
        const events = newEvents(1 + random(3));
        if (Math.random() < 0.5) {
          await store.appendToStream(stream, events);
          for (const event of events) committed.add(event.id);
          continue;
        }
        const client = await db.pool.connect();
        try {
          await client.query("BEGIN");
          await appendInTransaction(client, stream, events);
          // Hold the transaction (its sequence numbers taken) while others commit around it.
          await sleep(2 + random(150));
          if (Math.random() < 0.25) {
            await client.query("ROLLBACK");
            for (const event of events) rolledBack.add(event.id);
          } else {
            await client.query("COMMIT");
            for (const event of events) committed.add(event.id);
          }
        } finally {
          client.release();
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: 12 }, writer));
      await live.waitFor(committed.size, 20_000);
      await sleep(300);
    } finally {
      await live.stop();
    }

    const received = live.events;
    const ids = received.map((event) => event.id);
    assert.equal(new Set(ids).size, ids.length, "no event delivered twice");
    assert.equal(ids.length, committed.size, "exactly the committed events");
    assert.ok(
      ids.every((id) => committed.has(id) && !rolledBack.has(id)),
      "no rolled-back event",
    );
    assert.ok(rolledBack.size > 0, "the test rolled some transactions back");
    assertIncreasingPositions(received);

    const byStream = new Map<string, StoredEvent[]>();
    for (const event of received)
      byStream.set(event.streamName, [...(byStream.get(event.streamName) ?? []), event]);
    for (const [stream, events] of byStream) {
      assert.deepEqual(
        events.map((event) => event.revision),
        events.map((_, index) => index),
        `${stream}: revisions 0, 1, 2... in order, no gaps`,
      );
      const stored = await store.readStream(stream);
      assert.deepEqual(
        stored.map((event) => event.id),
        events.map((event) => event.id),
        `${stream}: the subscriber's order is the stream's order`,
      );
    }

    // A reader arriving afterwards sees the same global order as the live subscriber did.
    const replayed = await readAllWithPrefix(store, prefix, committed.size);
    assert.deepEqual(
      replayed.map((event) => event.id),
      ids,
    );
  });
});

test("global order holds when transaction ids cross a power of ten", async (t) => {
  const client = await db.pool.connect();
  try {
    const xid = async () =>
      BigInt(
        (await client.query<{ xid: string }>("SELECT pg_current_xact_id()::text AS xid")).rows[0]?.xid ?? 0,
      );
    const current = await xid();
    let power = 10n;
    while (power <= current + 50n) power *= 10n;
    const burn = power - current - 10n;
    if (burn > 100_000n) {
      t.skip(`transaction ids are at ${current}, too far from ${power} to cross cheaply`);
      return;
    }
    const prefix = uniqueName("xid-");
    const appended: string[] = [];
    const append = async (stream: string) => {
      const event = newEvent();
      await store.appendToStream(`${prefix}${stream}`, [event]);
      appended.push(event.id);
    };
    await append("early");
    // Use up transaction ids cheaply (no WAL flush per commit) until the next ones gain a digit.
    await client.query("SET synchronous_commit = off");
    await client.query(
      `DO $$ BEGIN FOR i IN 1..${burn} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`,
    );
    for (let index = 0; index < 20; index++) await append(`late-${index % 2}`);
    assert.ok((await xid()) > power, "the appends crossed the power of ten");
    const all = await readAllWithPrefix(store, prefix, appended.length);
    assert.deepEqual(
      all.map((event) => event.id),
      appended,
    );
    assertIncreasingPositions(all);
  } finally {
    await client.query("RESET synchronous_commit").catch(() => undefined);
    client.release();
  }
});

describe("races", () => {
  test("concurrent appends with the same expected revision: exactly one wins", async () => {
    const stream = uniqueName("race-");
    await store.appendToStream(stream, [newEvent()]);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => store.appendToStream(stream, newEvents(2), { expectedRevision: 0 })),
    );
    const won = results.filter((result) => result.status === "fulfilled");
    assert.equal(won.length, 1);
    for (const result of results) {
      if (result.status === "rejected") {
        assert.ok(result.reason instanceof WrongExpectedRevisionError, String(result.reason));
        assert.equal(result.reason.actual, 2);
      }
    }
    assert.deepEqual(
      (await store.readStream(stream)).map((event) => event.revision),
      [0, 1, 2],
    );
  });

  test("concurrent first appends with no_stream: exactly one creates the stream", async () => {
    const stream = uniqueName("race-new-");
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () =>
        store.appendToStream(stream, [newEvent()], { expectedRevision: "no_stream" }),
      ),
    );
    assert.equal(results.filter((result) => result.status === "fulfilled").length, 1);
    assert.ok(
      results.every(
        (result) => result.status === "fulfilled" || result.reason instanceof WrongExpectedRevisionError,
      ),
    );
    assert.equal(await store.streamRevision(stream), 0);
  });

  test("the same ids raced into different streams: one wins, the others get DuplicateEventIdError", async () => {
    const prefix = uniqueName("race-ids-");
    const events = newEvents(3);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, index) => store.appendToStream(`${prefix}${index}`, events)),
    );
    assert.equal(results.filter((result) => result.status === "fulfilled").length, 1);
    for (const result of results) {
      if (result.status === "rejected")
        assert.ok(result.reason instanceof DuplicateEventIdError, String(result.reason));
    }
    const stored = await readAllWithPrefix(store, prefix, 3);
    assert.equal(stored.length, 3);
  });

  test("the same append retried concurrently stores it once", async () => {
    const stream = uniqueName("race-retry-");
    const events = newEvents(2);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        store.appendToStream(stream, events, { expectedRevision: "no_stream" }),
      ),
    );
    assert.equal(results.filter((result) => result.appended).length, 1);
    assert.ok(results.every((result) => result.nextExpectedRevision === 1));
    assert.equal((await store.readStream(stream)).length, 2);
  });
});
