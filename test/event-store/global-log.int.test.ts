import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, test } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma.js";
import { InvalidPositionError } from "../../src/event-store/event-store.js";
import { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";
import { SEQUENCER_HOLD_LIMIT_MS } from "../../src/event-store/postgres/schema.js";
import { normalizeCheckpoint, readCheckpoint } from "../../src/projections/checkpoints.js";
import {
  createTestDatabase,
  embeddedAdminUrl,
  type TestDatabase,
  useTestStore,
} from "../support/database.js";
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

const LEGACY_SCHEMA = new URL("./fixtures/legacy-event-store.sql", import.meta.url);

const hex = (value: string | bigint) => BigInt(value).toString(16).padStart(16, "0");

describe("a store written before the sequencer (positions = transaction id, seq)", () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url);
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await db?.drop();
  });

  test("is converted at start: same order, legacy cursors and checkpoints resume where they were", async () => {
    await db.pool.query(await readFile(LEGACY_SCHEMA, "utf8"));
    const prefix = uniqueName("legacy-");
    // Interleaved transactions, so that the legacy order (transaction id, seq) differs from seq order.
    const [a, b] = [await db.pool.connect(), await db.pool.connect()];
    try {
      for (let round = 0; round < 5; round++) {
        await a.query("BEGIN");
        await appendInTransaction(a, `${prefix}a`, [newEvent()]);
        await b.query("BEGIN");
        await appendInTransaction(b, `${prefix}b`, [newEvent()]);
        await appendInTransaction(a, `${prefix}a`, newEvents(2));
        await b.query("COMMIT");
        await a.query("COMMIT");
      }
    } finally {
      a.release();
      b.release();
    }
    const { rows: legacy } = await db.pool.query<{ event_id: string; tid: string; seq: string }>(
      "SELECT event_id, transaction_id::text AS tid, seq FROM rs_events ORDER BY transaction_id, seq",
    );
    const bySeq = [...legacy].sort((x, y) => Number(x.seq) - Number(y.seq));
    assert.notDeepEqual(
      legacy.map((row) => row.event_id),
      bySeq.map((row) => row.event_id),
      "the legacy order is not the seq order (the test means something)",
    );
    const cursors = legacy.map((row) => `${hex(row.tid)}-${hex(row.seq)}`);
    await prisma.projectionCheckpoint.create({
      data: { name: "legacy-test", version: 1, position: cursors[6] as string, updatedAt: new Date() },
    });

    const store = await PostgresEventStore.create(db.pool);
    try {
      const all = await readAllWithPrefix(store, prefix, legacy.length);
      assert.deepEqual(
        all.map((event) => event.id),
        legacy.map((row) => row.event_id),
        "global replay: every event, in the order readers saw before",
      );
      assertIncreasingPositions(all);
      for (const [index, cursor] of cursors.entries()) {
        assert.equal(await store.normalizePosition(cursor), all[index]?.position, `legacy cursor ${index}`);
        const rest = await store.readAll({ after: cursor, streamPrefix: prefix });
        assert.deepEqual(
          rest.map((event) => event.id),
          all.slice(index + 1).map((event) => event.id),
        );
      }
      // A legacy cursor past the end (a far-future Last-Event-ID) stands for the last legacy event.
      assert.equal(await store.normalizePosition("7fffffffffffffff-7fffffffffffffff"), all.at(-1)?.position);

      await normalizeCheckpoint(prisma, store, "legacy-test");
      assert.equal((await readCheckpoint(prisma, "legacy-test"))?.position, all[6]?.position);

      const appended = await store.appendToStream(`${prefix}a`, [newEvent()]);
      assert.ok(appended.position > (all.at(-1)?.position as string), "new events come after the old ones");
      assert.equal((await store.readAll({ after: all.at(-1)?.position, streamPrefix: prefix })).length, 1);
      // Idempotent at every start: a second create converts nothing and changes no position.
      const again = await PostgresEventStore.create(db.pool);
      assert.deepEqual(
        (await readAllWithPrefix(again, prefix, legacy.length + 1)).map((event) => event.position),
        [...all.map((event) => event.position), appended.position],
      );
      await again.close();
    } finally {
      await store.close();
    }
  });
});

describe("the sequencer", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  useTestStore((made) => {
    ({ db, store } = made);
  });

  test("a position in the legacy form is refused by a store that never had legacy rows", async () => {
    await assert.rejects(store.normalizePosition("7fffffffffffffff-7fffffffffffffff"), InvalidPositionError);
    await assert.rejects(store.readAll({ after: "0000000000000001-0000000000000001" }), InvalidPositionError);
  });

  test("a writer paused mid-append: nothing skipped, the stall bounded and visible", async () => {
    const prefix = uniqueName("paused-");
    const live = new Subscriber((signal) => store.subscribeToAll({ streamPrefix: prefix, signal }));
    const committed: string[] = [];
    const first = newEvent();
    await store.appendToStream(`${prefix}before`, [first]);
    committed.push(first.id);

    // Writer 1 pauses 800 ms holding the sequencer, then commits: its event keeps its place.
    const slow = new pg.Client({ connectionString: db.url });
    await slow.connect();
    const slowEvent = newEvent();
    await slow.query("BEGIN");
    await appendInTransaction(slow, `${prefix}slow`, [slowEvent]);
    const behind = newEvent();
    const behindStarted = performance.now();
    const behindAppend = store.appendToStream(`${prefix}behind`, [behind]);
    await sleep(400);
    const during = await store.appendStatus();
    assert.ok(during.heldForMs >= 300, `the hold shows: ${JSON.stringify(during)}`);
    assert.ok(during.waiting >= 1, `the queued append shows: ${JSON.stringify(during)}`);
    await sleep(400);
    await slow.query("COMMIT");
    committed.push(slowEvent.id);
    await behindAppend;
    committed.push(behind.id);
    assert.ok(performance.now() - behindStarted >= 700, "the queued append waited for the slow one");
    await slow.end();

    // Writer 2 pauses for good: PostgreSQL ends it after SEQUENCER_HOLD_LIMIT_MS, its event never shows.
    const stuck = new pg.Client({ connectionString: db.url });
    stuck.on("error", () => undefined);
    await stuck.connect();
    await stuck.query("BEGIN");
    await appendInTransaction(stuck, `${prefix}stuck`, [newEvent()]);
    const after = newEvent();
    const started = performance.now();
    await store.appendToStream(`${prefix}after`, [after]);
    const stalledMs = performance.now() - started;
    committed.push(after.id);
    assert.ok(stalledMs < SEQUENCER_HOLD_LIMIT_MS + 3_000, `stall bounded: ${Math.round(stalledMs)} ms`);
    assert.ok(stalledMs > SEQUENCER_HOLD_LIMIT_MS - 1_500, `it did wait for the stuck one: ${stalledMs} ms`);
    await assert.rejects(stuck.query("COMMIT"), "the stuck writer's session was ended");
    await stuck.end().catch(() => undefined);
    assert.deepEqual(await store.appendStatus(), { heldForMs: 0, waiting: 0 });

    try {
      await live.waitFor(committed.length, 5_000);
      await sleep(300);
    } finally {
      await live.stop();
    }
    assert.deepEqual(
      live.events.map((event) => event.id),
      committed,
      "the subscriber saw every committed event once, in commit order",
    );
    assertIncreasingPositions(live.events);
    const replayed = await readAllWithPrefix(store, prefix, committed.length);
    assert.deepEqual(
      replayed.map((event) => event.id),
      committed,
    );
  }, 30_000);

  test("an idle transaction on another database holds nothing back", async () => {
    const admin = new pg.Client({ connectionString: embeddedAdminUrl() });
    await admin.connect();
    const other = `rs_foreign_${randomBytes(4).toString("hex")}`;
    await admin.query(`CREATE DATABASE ${other}`);
    const url = new URL(embeddedAdminUrl());
    url.pathname = `/${other}`;
    const idle = new pg.Client({ connectionString: url.toString() });
    await idle.connect();
    const prefix = uniqueName("foreign-");
    const live = new Subscriber((signal) => store.subscribeToAll({ streamPrefix: prefix, signal }));
    try {
      await idle.query("BEGIN");
      await idle.query("SELECT pg_current_xact_id()");
      // And one on this database that never touched the log.
      const local = await db.pool.connect();
      await local.query("BEGIN");
      await local.query("SELECT pg_current_xact_id()");
      try {
        const events = newEvents(3);
        const started = performance.now();
        for (const event of events) await store.appendToStream(`${prefix}x`, [event]);
        assert.equal((await readAllWithPrefix(store, prefix, 3)).length, 3);
        await live.waitFor(3, 5_000);
        assert.ok(performance.now() - started < 5_000, "live within seconds (it used to wait for ever)");
      } finally {
        await local.query("ROLLBACK");
        local.release();
      }
    } finally {
      await live.stop();
      await idle.end();
      await admin.query(`DROP DATABASE IF EXISTS ${other} WITH (FORCE)`);
      await admin.end();
    }
  });
});
