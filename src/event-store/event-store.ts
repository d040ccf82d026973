import type { JsonObject } from "../shared/json.js";

/**
 * The only source of truth: per-stream event sequences with gapless revisions (0, 1, 2, ...) and a
 * global order over all streams. Implemented on PostgreSQL and on EventStoreDB/KurrentDB.
 */
export interface EventStore {
  /** Appends atomically; writes nothing when the expectation fails or any event id is reused elsewhere. */
  appendToStream(streamName: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult>;
  /** Events of one stream with revision > `after` (all when `after` is undefined), oldest first. */
  readStream(streamName: string, options?: ReadStreamOptions): Promise<StoredEvent[]>;
  /** Events of all streams after global position `after` (exclusive), in global order. */
  readAll(options?: ReadAllOptions): Promise<StoredEvent[]>;
  /**
   * Stored events after `after`, then live ones, in order, each once, until `signal` aborts (the
   * iterator then returns) or the store fails (the iterator throws).
   */
  subscribeToStream(streamName: string, options: SubscribeToStreamOptions): AsyncIterable<StoredEvent>;
  subscribeToAll(options: SubscribeToAllOptions): AsyncIterable<StoredEvent>;
  /** Current revision of a stream, null when it has no events. */
  streamRevision(streamName: string): Promise<number | null>;
  /**
   * Global position of the log's last event, null when the log is empty: no position a reader was
   * handed can lie beyond it, so a cursor that does is not this log's (callers refuse or clamp it).
   */
  headPosition(): Promise<string | null>;
  /**
   * A global position a caller holds (a checkpoint, a client's cursor), in the form this store hands
   * out now: one written by an earlier version of the store is converted. Throws InvalidPositionError
   * when `position` is not one of this store's positions.
   */
  normalizePosition(position: string): Promise<string>;
  /** Number of events in streams starting with `streamPrefix` (progress bars); optional, may be slow. */
  countEvents?(streamPrefix: string): Promise<number>;
  /**
   * Appends queued behind the one that holds the log's order now (PostgreSQL's sequencer), for
   * /metrics and /readyz; stores whose appends never wait on each other leave it out.
   */
  appendStatus?(): Promise<AppendStatus>;
  close(): Promise<void>;
}

export interface NewEvent {
  /** UUID; an id already stored makes the append a no-op (idempotent retry) when it is the same append. */
  id: string;
  type: string;
  data: JsonObject;
  metadata?: JsonObject;
  occurredAt: Date;
}

export interface StoredEvent {
  id: string;
  streamName: string;
  revision: number;
  /** Opaque cursor in the global order; fixed-width, so plain string comparison orders positions. */
  position: string;
  type: string;
  data: JsonObject;
  metadata: JsonObject;
  occurredAt: Date;
}

/**
 * `any`: no check; `no_stream`: the stream must not exist; `stream_exists`: it must; a number: the
 * stream's last revision must be exactly that.
 */
export type ExpectedRevision = number | "any" | "no_stream" | "stream_exists";

export interface AppendOptions {
  expectedRevision?: ExpectedRevision;
}

export interface AppendResult {
  /** Revision of the stream's last event after the append. */
  nextExpectedRevision: number;
  /** Global position of the last appended event. */
  position: string;
  /** False when every event id was already stored by the same earlier append (a retried call). */
  appended: boolean;
}

export interface AppendStatus {
  /** How long the append now holding the log's order has held it; 0 when none does. */
  heldForMs: number;
  /** Appends waiting for their turn. */
  waiting: number;
}

export interface ReadStreamOptions {
  after?: number;
  maxCount?: number;
}

export interface ReadAllOptions {
  after?: string | null;
  maxCount?: number;
  /**
   * Ends the page after the event that brings its events' data to this many bytes (of JSON, about);
   * a page holds at least one event. Bounds a page's memory when events can be large.
   */
  maxBytes?: number;
  /** Only streams whose name starts with this prefix. */
  streamPrefix?: string;
}

export interface SubscribeToStreamOptions {
  after?: number | null;
  signal: AbortSignal;
}

export interface SubscribeToAllOptions {
  after?: string | null;
  streamPrefix?: string;
  signal: AbortSignal;
}

/** The stream is not at the expected revision; nothing was written. */
export class WrongExpectedRevisionError extends Error {
  override name = "WrongExpectedRevisionError";
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | null,
  ) {
    super(`stream ${streamName}: expected revision ${String(expected)}, actual ${actual ?? "no stream"}`);
  }
}

/** An event id is already stored, but not as part of the same append; nothing was written. */
export class DuplicateEventIdError extends Error {
  override name = "DuplicateEventIdError";
  constructor(
    readonly streamName: string,
    readonly eventIds: string[],
  ) {
    super(`stream ${streamName}: event ids already stored elsewhere: ${eventIds.join(", ")}`);
  }
}

/**
 * A position that is not one of this store's (malformed, out of range, or another backend's); the
 * caller gave bad input. Both backends throw this class, so callers match it with instanceof.
 */
export class InvalidPositionError extends Error {
  override name = "InvalidPositionError";
}

/** The store is unreachable or failed; callers may retry later. */
export class EventStoreUnavailableError extends Error {
  override name = "EventStoreUnavailableError";
}

export const comparePositions = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
