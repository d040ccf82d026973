import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import { createProjectionEngine } from "../../src/projections/create-projection-engine.js";
import { listProjections, rebuildProjections } from "../../src/projections/rebuild.js";
import { runsProjection } from "../../src/projections/runs/runs-projection.js";
import { generateThroughHandler } from "./generate-history.js";
import { headPosition, openFixture, type ProjectionFixture, snapshotRows } from "./support.js";

let f: ProjectionFixture;
let incremental: Awaited<ReturnType<typeof snapshotRows>>;
beforeAll(async () => {
  // Writes through the pg pool here; runs-projection.int.test.ts covers the Prisma path.
  f = await openFixture({ viaPool: true });
  const engine = createProjectionEngine(f);
  engine.start();
  // Many runs advanced in turns, so their events interleave in the global order.
  await generateThroughHandler(f.store, 40, 11);
  await engine.waitFor(await headPosition(f), 10_000);
  await engine.stop();
  incremental = await snapshotRows(f);
});
afterAll(async () => {
  await f.close();
});

test("the generated history covers every event type", async () => {
  const { rows } = await f.db.pool.query<{ type: string }>("SELECT DISTINCT type FROM rs_events");
  const types = new Set(rows.map((row) => row.type));
  for (const type of [
    "RunStarted",
    "RunClaimed",
    "StepStarted",
    "StepProgressed",
    "AlternativesProduced",
    "AlternativeSelected",
    "StepCompleted",
    "StepFailed",
    "RunCompleted",
    "RunFailed",
    "StepRetried",
    "RunResumed",
    "RunRerun",
  ]) {
    assert.ok(types.has(type), `history has ${type}`);
  }
  assert.equal(incremental.runs.length, 40);
});

test("rebuild gives the same rows as the incremental projection, in pages", async () => {
  const progress: number[] = [];
  const result = await rebuildProjections({ ...f, pageSize: 97 }, null, (p) => {
    assert.equal(p.projection, "runs");
    assert.ok(p.replayed <= p.total);
    progress.push(p.replayed);
  });
  assert.deepEqual(result.projections, ["runs"]);
  const { rows } = await f.db.pool.query<{ count: string }>("SELECT count(*) FROM rs_events");
  assert.equal(result.eventsReplayed, Number(rows[0]?.count));
  assert.ok(progress.length > 3, "progress reported per page");
  assert.deepEqual(await snapshotRows(f), incremental);
  const [info] = await listProjections(f);
  assert.equal(info?.position, await headPosition(f));
  assert.equal(info?.needsRebuild, false);
  // Nothing of the rebuild is left behind.
  const schemas = await f.db.pool.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rs\\_%'");
  assert.deepEqual(schemas.rows, []);
  // The swapped-in tables carry the live tables' indexes and keys under the same names.
  const indexes = await f.db.pool.query<{ indexname: string }>(
    "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('runs', 'steps') ORDER BY 1",
  );
  assert.deepEqual(
    indexes.rows.map((row) => row.indexname),
    [
      "runs_pkey",
      "runs_status_worker_id_idx",
      "runs_workspace_id_created_at_id_idx",
      "runs_workspace_id_pipeline_created_at_id_idx",
      "runs_workspace_id_status_created_at_id_idx",
      "steps_pkey",
      "steps_run_id_index_idx",
    ],
  );
  const keys = await f.db.pool.query<{ conname: string; convalidated: boolean }>(
    "SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
  );
  assert.deepEqual(keys.rows, [
    { conname: "run_leases_run_id_fkey", convalidated: true },
    { conname: "steps_run_id_fkey", convalidated: true },
  ]);
});

test("readers see the old complete read model until the rebuilt one replaces it", async () => {
  const expected = await f.db.pool.query<{ runs: string; steps: string; revisions: string }>(
    "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM steps) AS steps, (SELECT sum(revision) FROM runs) AS revisions",
  );
  let reading = true;
  let reads = 0;
  const seen = new Set<string>();
  const reader = async () => {
    while (reading) {
      const { rows } = await f.db.pool.query(
        "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM steps) AS steps, (SELECT sum(revision) FROM runs) AS revisions",
      );
      seen.add(JSON.stringify(rows[0]));
      reads++;
    }
  };
  // The API reads through Prisma: its statements must find the swapped-in tables too.
  const prismaReader = async () => {
    while (reading) {
      const [runs, steps] = await Promise.all([f.prisma.run.count(), f.prisma.step.count()]);
      seen.add(
        JSON.stringify({ runs: String(runs), steps: String(steps), revisions: expected.rows[0]?.revisions }),
      );
    }
  };
  const readers = [reader(), reader(), prismaReader()];
  try {
    await rebuildProjections({ ...f, pageSize: 50 }, ["runs"]);
  } finally {
    reading = false;
    await Promise.all(readers);
  }
  assert.ok(reads > 10, `readers ran during the rebuild (${reads})`);
  assert.deepEqual([...seen], [JSON.stringify(expected.rows[0])]);
});

test("a projection's version bump rebuilds it when the engine starts", async () => {
  const bumped = { ...runsProjection, version: runsProjection.version + 1 };
  const engine = createProjectionEngine({ ...f, projections: [bumped] });
  engine.start();
  await engine.waitFor(await headPosition(f), 10_000);
  await engine.stop();
  const rows = await f.db.pool.query("SELECT version FROM projection_checkpoints WHERE name = 'runs'");
  assert.equal(rows.rows[0]?.version, bumped.version);
  assert.deepEqual(await snapshotRows(f), incremental);
  // The old code now sees a newer stored version and refuses to apply (it does not rebuild backwards).
  const [info] = await listProjections(f);
  assert.equal(info?.storedVersion, bumped.version);
  assert.equal(info?.needsRebuild, false);
});

test("rebuilding an unknown projection fails with its name", async () => {
  await assert.rejects(rebuildProjections(f, ["nope"]), { name: "UnknownProjectionError", message: /nope/ });
});
