import type { EventStore } from "../event-store/event-store.js";
import { runRecord } from "../projections/runs/run-rows.js";
import { InvalidInputError, NotFoundError } from "../shared/errors.js";
import { type RunEvent, runStreamName } from "./events.js";
import { evolve, initialState, type Run, type RunState } from "./state.js";

/** Runs can be long, but never this long: a fold past it is refused instead of holding the process. */
export const MAX_TIME_TRAVEL_EVENTS = 100_000;

/** Marks a run rebuilt from its history: commands are never offered against a past state. */
export const HISTORICAL = Symbol("historical run");

/**
 * The run as it was right after event `atRevision` of its stream, folded with the same `evolve` the
 * decider and the projections use, shaped like a row of the runs read model (steps included) so the
 * GraphQL `Run` type answers it unchanged. Runs of other workspaces do not exist for the caller.
 */
export async function runAtRevision(
  store: EventStore,
  runId: string,
  atRevision: number,
  workspaceId: string,
) {
  if (!Number.isInteger(atRevision) || atRevision < 0) {
    throw new InvalidInputError(`atRevision must be a revision (0 or more), got ${atRevision}`);
  }
  if (atRevision >= MAX_TIME_TRAVEL_EVENTS) {
    throw new InvalidInputError(`atRevision must be below ${MAX_TIME_TRAVEL_EVENTS}`);
  }
  const events = await store.readStream(runStreamName(runId), { maxCount: atRevision + 1 });
  const first = events[0];
  if (first?.type !== "RunStarted" || first.data.workspaceId !== workspaceId) {
    throw new NotFoundError(`run ${runId} does not exist`);
  }
  const last = events.at(-1);
  if (!last || last.revision < atRevision) {
    throw new InvalidInputError(`run ${runId} is at revision ${last?.revision}, before ${atRevision}`);
  }
  const state = events.reduce<RunState>(
    (folded, event) => evolve(folded, { type: event.type, data: event.data } as unknown as RunEvent),
    initialState(),
  );
  if (!state.exists) throw new NotFoundError(`run ${runId} does not exist`);
  return asReadModelRow(state, last.revision, last.position);
}

/** The folded run as a read-model record (the projection's own mapping), marked as historical. */
function asReadModelRow(run: Run, revision: number, position: string) {
  return { ...runRecord({ run, revision, position }), lease: null, [HISTORICAL]: true as const };
}
