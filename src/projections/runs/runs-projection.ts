import type { StoredEvent } from "../../event-store/event-store.js";
import { RUN_STREAM_PREFIX, runIdOfStream } from "../../runs/events.js";
import { evolveStored, type RunState } from "../../runs/state.js";
import type { Json } from "../../shared/json.js";
import type { Projection } from "../projection.js";
import { ident, type SqlClient } from "../sql.js";
import {
  type ProjectedRun,
  runRow,
  selectProjectedRuns,
  stepRow,
  upsertRuns,
  upsertSteps,
} from "./run-rows.js";

/** Keeps the rebuild's memory bounded: states of runs not touched for a while are read back from rows. */
const MAX_CACHED_RUNS = 50_000;

async function loadRuns(
  sql: SqlClient,
  schema: string,
  runIds: string[],
): Promise<Map<string, ProjectedRun>> {
  if (runIds.length === 0) return new Map();
  const rows = await sql.$queryRawUnsafe<{ doc: string }[]>(
    selectProjectedRuns(`${ident(schema)}.runs`, `${ident(schema)}.steps`),
    JSON.stringify(runIds),
  );
  const loaded = new Map<string, ProjectedRun>();
  for (const row of rows) {
    const projected = JSON.parse(row.doc) as ProjectedRun;
    loaded.set(projected.run.id, projected);
  }
  return loaded;
}

const runIdOf = (event: StoredEvent): string => runIdOfStream(event.streamName);

/**
 * runs + steps: each run's row is the domain's own fold (`evolve`) of its stream, so the read model
 * cannot disagree with the decider about what a retry, resume or rerun resets.
 */
export const runsProjection: Projection = {
  name: "runs",
  version: 2,
  streamPrefix: RUN_STREAM_PREFIX,
  tables: ["runs", "steps"],

  async apply(sql, schema, events, cache) {
    const runIds = [...new Set(events.map(runIdOf))];
    const known = (cache ?? new Map()) as Map<string, ProjectedRun>;
    const loaded = await loadRuns(
      sql,
      schema,
      runIds.filter((id) => !known.has(id)),
    );
    const before = new Map<string, ProjectedRun | undefined>();
    for (const id of runIds) before.set(id, known.get(id) ?? loaded.get(id));

    const after = new Map(before);
    for (const event of events) {
      const id = runIdOf(event);
      const current = after.get(id);
      // Belt and braces next to the checkpoint: an event the row already has is never applied twice.
      if (current && event.revision <= current.revision) continue;
      const state: RunState = current?.run ?? { exists: false };
      const next = evolveStored(state, [event]);
      if (!next.exists) continue;
      after.set(id, { run: next, revision: event.revision, position: event.position });
    }

    const runRows: Record<string, Json>[] = [];
    const stepRows: Record<string, Json>[] = [];
    for (const [id, projected] of after) {
      const previous = before.get(id);
      if (!projected || projected === previous) continue;
      runRows.push(runRow(projected));
      // `evolve` keeps untouched steps as the same objects, so only changed steps are written.
      projected.run.steps.forEach((step, index) => {
        if (previous?.run.steps[index] !== step) stepRows.push(stepRow(projected.run.id, step));
      });
    }
    if (runRows.length > 0) {
      // One statement for both tables: one round trip; the steps' foreign key is checked at its end.
      await sql.$executeRawUnsafe(
        `WITH written_runs AS (${upsertRuns(`${ident(schema)}.runs`, "$1")} RETURNING 1)
         ${upsertSteps(`${ident(schema)}.steps`, "$2")}`,
        JSON.stringify(runRows),
        JSON.stringify(stepRows),
      );
    }
    if (cache) {
      for (const [id, projected] of after) if (projected) cache.set(id, projected);
      if (cache.size > MAX_CACHED_RUNS) {
        const excess = cache.size - MAX_CACHED_RUNS / 2;
        let dropped = 0;
        for (const id of cache.keys()) {
          if (dropped++ >= excess) break;
          cache.delete(id);
        }
      }
    }
  },
};
