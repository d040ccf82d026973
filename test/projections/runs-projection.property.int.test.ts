import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProjectionEngine } from "../../src/projections/create-projection-engine.js";
import { type ProjectedRun, selectProjectedRuns } from "../../src/projections/runs/run-rows.js";
import { runStreamName } from "../../src/runs/events.js";
import type { RunState } from "../../src/runs/state.js";
import { newId } from "../../src/shared/ids.js";
import { moves, type PlayedHistory, play, propertySettings } from "../runs/properties/run-histories.js";
import { headPosition, openFixture, type ProjectionFixture } from "./support.js";

/**
 * decide+evolve equals the read model: the histories the decider's property suite generates (same
 * arbitrary, same seed; PROPERTY_PROJECTION_RUNS of them, 1,000 by default) are appended to PostgreSQL
 * as the command handler appends them, and the runs projection must hold exactly the state evolve
 * folds. Halfway, the engine is stopped and a new one started, so the second half folds onto runs
 * read back from their rows (the round trip a restart or an evicted cache takes).
 */
const { seed, numRuns } = propertySettings(1_000, "PROPERTY_PROJECTION_RUNS");
const histories: PlayedHistory[] = fc
  .sample(moves(), { seed, numRuns })
  .map((history, index) => play(history, `prop-${seed}-${index}`));

let f: ProjectionFixture;
beforeAll(async () => {
  f = await openFixture({ viaPool: true });
});
afterAll(async () => {
  await f?.close();
});

/** Appends the events of commands [from, to) of each history, one append per command, as the handler does. */
async function append(from: (history: PlayedHistory) => number, to: (history: PlayedHistory) => number) {
  await Promise.all(
    histories.map(async (history) => {
      for (const entry of history.played.slice(from(history), to(history))) {
        if (!("events" in entry.outcome) || entry.outcome.events.length === 0) continue;
        await f.store.appendToStream(
          runStreamName(entry.command.runId),
          entry.outcome.events.map((event) => ({
            id: newId(),
            type: event.type,
            data: event.data as never,
            occurredAt: new Date(entry.command.now),
          })),
        );
      }
    }),
  );
}

async function projected(): Promise<Map<string, ProjectedRun>> {
  const { rows } = await f.db.pool.query<{ doc: string }>(selectProjectedRuns("runs", "steps"), [
    JSON.stringify(histories.map((history) => history.played[0]?.command.runId)),
  ]);
  return new Map(
    rows.map(({ doc }) => [(JSON.parse(doc) as ProjectedRun).run.id, JSON.parse(doc) as ProjectedRun]),
  );
}

/** Each history's folded state after `count(history)` commands must be the row the projection wrote. */
async function expectReadModelToMatch(count: (history: PlayedHistory) => number) {
  const rows = await projected();
  histories.forEach((history, index) => {
    const runId = history.played[0]?.command.runId ?? "";
    const state: RunState = history.played[count(history) - 1]?.after ?? { exists: false };
    const revision = history.events.filter((entry) => entry.by < count(history)).length - 1;
    const row = rows.get(runId);
    const context = `history ${index} of seed ${seed} (PROPERTY_SEED=${seed}), run ${runId}`;
    expect(row?.run, context).toEqual(state);
    expect(row?.revision, context).toBe(revision);
  });
}

describe("runs projection, generated histories", () => {
  it("holds what decide+evolve fold, halfway (then across an engine restart) and at the end", async () => {
    const half = (history: PlayedHistory) => Math.ceil(history.played.length / 2);
    const all = (history: PlayedHistory) => history.played.length;

    const first = createProjectionEngine(f);
    first.start();
    await append(() => 0, half);
    await first.waitFor(await headPosition(f), 30_000);
    await first.stop();
    await expectReadModelToMatch(half);

    const second = createProjectionEngine(f);
    second.start();
    await append(half, all);
    await second.waitFor(await headPosition(f), 30_000);
    await second.stop();
    await expectReadModelToMatch(all);
  }, 120_000);
});
