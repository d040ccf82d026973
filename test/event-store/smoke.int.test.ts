import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

let db: TestDatabase;
let store: PostgresEventStore;
beforeAll(async () => {
  db = await createTestDatabase();
  store = await PostgresEventStore.create(db.pool);
});
afterAll(async () => {
  await store.close();
  await db.drop();
});

test("append and read back", async () => {
  const id = crypto.randomUUID();
  const r = await store.appendToStream("run-a", [{ id, type: "X", data: { a: 1 }, occurredAt: new Date() }], {
    expectedRevision: "no_stream",
  });
  assert.equal(r.nextExpectedRevision, 0);
  assert.equal(r.appended, true);
  const again = await store.appendToStream(
    "run-a",
    [{ id, type: "X", data: { a: 1 }, occurredAt: new Date() }],
    { expectedRevision: "no_stream" },
  );
  assert.equal(again.appended, false);
  assert.equal(again.position, r.position);
  await assert.rejects(
    store.appendToStream(
      "run-a",
      [{ id: crypto.randomUUID(), type: "X", data: {}, occurredAt: new Date() }],
      { expectedRevision: 5 },
    ),
    /expected revision/,
  );
  const events = await store.readStream("run-a");
  assert.equal(events.length, 1);
  const all = await store.readAll();
  assert.equal(all.length, 1);
  assert.equal(all[0]?.position, r.position);
});
