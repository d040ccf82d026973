import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import { createPrismaClient } from "../../src/db/prisma.js";
import type { StoredEvent } from "../../src/event-store/event-store.js";
import { createProjectionEngine } from "../../src/projections/create-projection-engine.js";
import type { Projection } from "../../src/projections/projection.js";
import { rebuildProjections } from "../../src/projections/rebuild.js";
import { runsProjection } from "../../src/projections/runs/runs-projection.js";
import { generateThroughHandler } from "./generate-history.js";
import { headPosition, openFixture, type ProjectionFixture, snapshotRows } from "./support.js";

let f: ProjectionFixture;
beforeAll(async () => {
  f = await openFixture({ viaPool: true });
});
afterAll(async () => {
  await f.close();
});

/** The runs projection, counting the events each instance is handed to apply. */
function counting(applied: StoredEvent[]): Projection {
  return {
    ...runsProjection,
    async apply(sql, schema, events, cache) {
      await runsProjection.apply(sql, schema, events, cache);
      applied.push(...events);
    },
  };
}

test("two engines on one database apply each event exactly once", async () => {
  const appliedA: StoredEvent[] = [];
  const appliedB: StoredEvent[] = [];
  const prismaB = createPrismaClient(f.db.url, 4);
  const a = createProjectionEngine({ ...f, projections: [counting(appliedA)] });
  const b = createProjectionEngine({ ...f, prisma: prismaB, projections: [counting(appliedB)] });
  a.start();
  b.start();
  try {
    // Two writers at once, so the engines compete for batches.
    await Promise.all([generateThroughHandler(f.store, 15, 21), generateThroughHandler(f.store, 15, 22)]);
    const head = await headPosition(f);
    await Promise.all([a.waitFor(head, 10_000), b.waitFor(head, 10_000)]);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await prismaB.$disconnect();
  }
  // Both may have applied a batch (commits serialize on the checkpoint row), never the same event.
  const applied = [...appliedA, ...appliedB].map((event) => event.id);
  const { rows } = await f.db.pool.query<{ count: string }>("SELECT count(*) FROM rs_events");
  assert.equal(applied.length, Number(rows[0]?.count));
  assert.equal(new Set(applied).size, applied.length);
  // And the result is what a single rebuild gives.
  const incremental = await snapshotRows(f);
  await rebuildProjections(f, null);
  assert.deepEqual(await snapshotRows(f), incremental);
});

test("a batch that fails mid-way leaves nothing behind and is applied again from the checkpoint", async () => {
  const before = await snapshotRows(f);
  const checkpointBefore = await f.db.pool.query("SELECT position FROM projection_checkpoints");
  let failures = 1;
  let seenDuringFailure: Awaited<ReturnType<typeof snapshotRows>> | null = null;
  let checkpointDuringFailure: unknown = null;
  const crashing: Projection = {
    ...runsProjection,
    async apply(sql, schema, events, cache) {
      await runsProjection.apply(sql, schema, events, cache);
      if (failures > 0) {
        failures--;
        // Rows written, checkpoint not yet moved: the process dies here. Other connections see nothing.
        seenDuringFailure = await snapshotRows(f);
        checkpointDuringFailure = (await f.db.pool.query("SELECT position FROM projection_checkpoints")).rows;
        throw new Error("simulated crash in the middle of a batch");
      }
    },
  };
  const engine = createProjectionEngine({ ...f, projections: [crashing] });
  engine.start();
  try {
    await generateThroughHandler(f.store, 10, 31);
    await engine.waitFor(await headPosition(f), 10_000);
  } finally {
    await engine.stop();
  }
  assert.equal(failures, 0, "the crash happened, then the batch went through");
  assert.deepEqual(seenDuringFailure, before);
  assert.deepEqual(checkpointDuringFailure, checkpointBefore.rows);
  const incremental = await snapshotRows(f);
  assert.equal(incremental.runs.length, before.runs.length + 10);
  await rebuildProjections(f, null);
  assert.deepEqual(await snapshotRows(f), incremental);
});

test("replaying the same events again changes no row (idempotent)", async () => {
  const rows = await snapshotRows(f);
  // Rewind the checkpoint: every event is handed to the projection a second time.
  await f.db.pool.query("UPDATE projection_checkpoints SET position = '' WHERE name = 'runs'");
  const applied: StoredEvent[] = [];
  const engine = createProjectionEngine({ ...f, projections: [counting(applied)] });
  engine.start();
  try {
    await engine.waitFor(await headPosition(f), 10_000);
  } finally {
    await engine.stop();
  }
  const { rows: count } = await f.db.pool.query<{ count: string }>("SELECT count(*) FROM rs_events");
  assert.equal(applied.length, Number(count[0]?.count));
  assert.deepEqual(await snapshotRows(f), rows);
});

test("an engine that is not started still answers waitFor from the checkpoint other processes move", async () => {
  const follower = createProjectionEngine(f);
  follower.start();
  const idle = createProjectionEngine(f);
  try {
    await generateThroughHandler(f.store, 2, 41);
    await idle.waitFor(await headPosition(f), 5_000);
    await assert.rejects(idle.waitFor("ffffffffffffffff-ffffffffffffffff", 60), {
      name: "ReadModelTimeoutError",
    });
  } finally {
    await follower.stop();
  }
});
