import type { EventStore, StoredEvent } from "../event-store/event-store.js";
import { RUN_STREAM_PREFIX, runStreamName } from "../runs/events.js";
import type { StreamDemux } from "./stream-demux.js";

/**
 * What a stream of events looks like to the streaming core, whatever it is (one run, or all runs):
 * how to page through it after a cursor, how to follow it live, and what a cursor is.
 */
export interface StreamSource<Cursor> {
  /** Identifies the shared live feed: every subscriber of the same key shares one store subscription. */
  readonly key: string;
  /** Cursor before the first event. */
  readonly start: Cursor;
  cursorOf(event: StoredEvent): Cursor;
  /** a > b in the stream's order. */
  isAfter(a: Cursor, b: Cursor): boolean;
  /** Up to `maxCount` events after `after`, oldest first. */
  read(after: Cursor, maxCount: number): Promise<StoredEvent[]>;
  /** Events after `after`, live, until `signal` aborts; throws when the store fails. */
  follow(after: Cursor, signal: AbortSignal): AsyncIterable<StoredEvent>;
  /**
   * False once the stream's subject is gone (a run deleted or archived). Checked now and then by the
   * live feed, once for all its subscribers. Absent: never goes away.
   */
  exists?(): Promise<boolean>;
}

/**
 * One run's stream; cursor = revision (-1 before the first event). Followed live through `demux`
 * (one store subscription shared by every followed run) when given, else by a store subscription
 * of its own.
 */
export function runEventSource(
  store: EventStore,
  runId: string,
  exists?: () => Promise<boolean>,
  demux?: StreamDemux,
): StreamSource<number> {
  const streamName = runStreamName(runId);
  return {
    key: streamName,
    start: -1,
    cursorOf: (event) => event.revision,
    isAfter: (a, b) => a > b,
    read: (after, maxCount) => store.readStream(streamName, { after, maxCount }),
    follow: (after, signal) =>
      demux
        ? demux.follow(streamName, after, signal)
        : store.subscribeToStream(streamName, { after, signal }),
    exists,
  };
}

/** Every run's events in the global order; cursor = position (null before the first event). */
export function allRunEventsSource(store: EventStore): StreamSource<string | null> {
  return {
    key: "$all-runs",
    start: null,
    cursorOf: (event) => event.position,
    isAfter: (a, b) => a !== null && (b === null || a > b),
    read: (after, maxCount) => store.readAll({ after, maxCount, streamPrefix: RUN_STREAM_PREFIX }),
    follow: (after, signal) => store.subscribeToAll({ after, signal, streamPrefix: RUN_STREAM_PREFIX }),
  };
}
