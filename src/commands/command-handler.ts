import type { EventStore, StoredEvent } from "../event-store/event-store.js";
import { WrongExpectedRevisionError } from "../event-store/event-store.js";
import { deterministicUuid, newId } from "../shared/ids.js";
import type { JsonObject } from "../shared/json.js";
import type { Decider } from "./decider.js";
import { RevisionConflictError } from "./errors.js";

export interface DomainEvent {
  type: string;
  data: JsonObject | object;
}

export interface HandleOptions<Event> {
  /** The caller's view of the stream: the append happens only if the stream is still there. */
  expectedRevision?: number | null;
  /**
   * Identifies the command across retries of the same call: its events get ids derived from it, so
   * a retried command that already went through appends nothing twice.
   */
  commandId?: string;
  /** How often to re-read and re-decide when another writer got in first (without expectedRevision). */
  maxRetries?: number;
  metadata?: JsonObject;
  occurredAt: Date;
  /** The stream's format: a stored event as the decider's event, null for one it does not know. */
  toEvent: (stored: StoredEvent) => Event | null;
  /**
   * A precondition on the stream as read, checked before the expected revision and the decision
   * (e.g. that the run belongs to the caller's workspace): it costs no read of its own. Throws to refuse.
   */
  checkHistory?: (history: StoredEvent[]) => void;
}

export interface HandleResult<State> {
  state: State;
  /** Revision of the stream after the command, null if it still has no events. */
  revision: number | null;
  /** Global position of the last event this command appended, null when it appended nothing. */
  position: string | null;
  events: DomainEvent[];
}

/**
 * The one path by which anything changes: read the stream, fold it, decide, append with the
 * revision that was read. Used by the API and by the worker alike.
 */
export async function handleCommand<State, Command, Event extends DomainEvent>(
  store: EventStore,
  decider: Decider<State, Command, Event>,
  streamName: string,
  command: Command,
  options: HandleOptions<Event>,
): Promise<HandleResult<State>> {
  const maxRetries = options.expectedRevision != null ? 0 : (options.maxRetries ?? 5);
  for (let attempt = 0; ; attempt++) {
    const history = await store.readStream(streamName);
    options.checkHistory?.(history);
    const revision = history.at(-1)?.revision ?? null;
    if (options.expectedRevision != null && options.expectedRevision !== revision) {
      throw new RevisionConflictError(streamName, String(options.expectedRevision), revision);
    }
    let state = history.reduce((folded, stored) => {
      const event = options.toEvent(stored);
      return event === null ? folded : decider.evolve(folded, event);
    }, decider.initialState());
    const events = decider.decide(command, state);
    if (events.length === 0) return { state, revision, position: null, events };
    const commandId = options.commandId;
    try {
      const result = await store.appendToStream(
        streamName,
        events.map((event, index) => ({
          id: commandId ? deterministicUuid(`${streamName}/${commandId}/${index}`) : newId(),
          type: event.type,
          data: event.data as JsonObject,
          metadata: options.metadata ?? {},
          occurredAt: options.occurredAt,
        })),
        { expectedRevision: revision ?? "no_stream" },
      );
      state = events.reduce((folded, event) => decider.evolve(folded, event), state);
      return { state, revision: result.nextExpectedRevision, position: result.position, events };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      if (attempt >= maxRetries) {
        throw new RevisionConflictError(
          streamName,
          String(options.expectedRevision ?? revision),
          error.actual,
        );
      }
    }
  }
}
