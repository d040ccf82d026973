import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  type ResolvedEvent,
  START,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError,
} from "@eventstore/db-client";
import {
  type AppendOptions,
  type AppendResult,
  DuplicateEventIdError,
  type EventStore,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type SubscribeToAllOptions,
  type SubscribeToStreamOptions,
  WrongExpectedRevisionError,
} from "../event-store.js";
import { guarded, mapEsdbError, toWrongExpectedRevision } from "./errors.js";
import { readAllFiltered } from "./filtered-read.js";
import {
  decodeEsdbPosition,
  encodeEsdbPosition,
  fromEsdbCurrentRevision,
  hasRealPosition,
  isForeignRecord,
  normalizeConnectionString,
  toEsdbExpectedRevision,
  toEventData,
  toStoredEvent,
} from "./mapping.js";
import { DEFAULT_RESUME_POLICY, type ResumePolicy, resilientSubscription } from "./resilient-subscription.js";

export interface EsdbEventStoreOptions {
  resumePolicy?: ResumePolicy;
  onSubscriptionDrop?: (error: unknown, attempt: number, delayMs: number) => void;
}

const DEFAULT_READ_ALL_COUNT = 1_000;
/** Streams of ours only: EventStoreDB's own streams start with "$". */
const NOT_SYSTEM = { regex: "^[^$]" };

/**
 * The event store on EventStoreDB/KurrentDB: one stream per run, $all as the global order, positions
 * encoded like PostgreSQL's (fixed-width, string-comparable). Read models stay in PostgreSQL.
 */
export class EsdbEventStore implements EventStore {
  private readonly resumePolicy: ResumePolicy;

  constructor(
    readonly client: EventStoreDBClient,
    private readonly options: EsdbEventStoreOptions = {},
  ) {
    this.resumePolicy = options.resumePolicy ?? DEFAULT_RESUME_POLICY;
  }

  /** `url`: esdb://host:2113?tls=false (kurrentdb:// and kdb:// are accepted too). */
  static connect(url: string, options: EsdbEventStoreOptions = {}): EsdbEventStore {
    return new EsdbEventStore(EventStoreDBClient.connectionString(normalizeConnectionString(url)), options);
  }

  /**
   * EventStoreDB dedupes a retried append itself (same ids at the expected revision, or, for `any`,
   * ids in its recent-events cache) and answers it like a fresh success. A fresh append always ends
   * past the revision the stream had before it; a deduplicated one ends at events that were already
   * there. Hence the read of the stream's revision first. Ids stored in *another* stream are not
   * detected: EventStoreDB keeps no global index of event ids.
   */
  async appendToStream(
    streamName: string,
    events: NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error("appendToStream needs at least one event");
    const expected = options.expectedRevision ?? "any";
    const before = (await this.streamRevision(streamName)) ?? -1;
    let nextExpectedRevision: number;
    try {
      const result = await this.client.appendToStream(streamName, events.map(toEventData), {
        expectedRevision: toEsdbExpectedRevision(expected),
      });
      if (!result.success) {
        // Only with throwOnAppendFailure=false in the connection string: the same failure, unthrown.
        throw new WrongExpectedRevisionError(
          streamName,
          expected,
          fromEsdbCurrentRevision(result.nextExpectedRevision),
        );
      }
      nextExpectedRevision = Number(result.nextExpectedRevision);
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError) throw error;
      if (error instanceof WrongExpectedVersionError)
        throw toWrongExpectedRevision(error, streamName, expected);
      const mapped = mapEsdbError(error);
      if (mapped === error && (await this.storesAnyOf(streamName, events))) {
        // A partial match of stored ids ("corrupted idempotency") is refused as an unknown error.
        throw new DuplicateEventIdError(
          streamName,
          events.map((event) => event.id),
        );
      }
      throw mapped;
    }
    const [last] = await this.readStream(streamName, { after: nextExpectedRevision - 1, maxCount: 1 });
    if (!last) throw new Error(`stream ${streamName}: appended event at ${nextExpectedRevision} not found`);
    return { nextExpectedRevision, position: last.position, appended: nextExpectedRevision > before };
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const from = (options.after ?? -1) + 1;
    const events: StoredEvent[] = [];
    await guarded(async () => {
      try {
        const read = this.client.readStream(streamName, {
          fromRevision: from <= 0 ? START : BigInt(from),
          maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
        });
        for await (const resolved of read as AsyncIterable<ResolvedEvent>) {
          if (resolved.event && !isForeignRecord(resolved.event)) events.push(toStoredEvent(resolved.event));
        }
      } catch (error) {
        if (!(error instanceof StreamNotFoundError)) throw error;
      }
    });
    return events;
  }

  /** Filtered on the server; positions are exclusive here, inclusive on the server, hence the check. */
  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const maxCount = options.maxCount ?? DEFAULT_READ_ALL_COUNT;
    const after = options.after ?? null;
    const prefix = options.streamPrefix;
    const events: StoredEvent[] = [];
    let bytes = 0;
    await guarded(async () => {
      const read = readAllFiltered(this.client, {
        fromPosition: after ? decodeEsdbPosition(after) : null,
        // One more: the event at `after` itself comes back first when it matches.
        maxCount: maxCount + 1,
        filter: prefix ? { prefixes: [prefix] } : NOT_SYSTEM,
      });
      for await (const resolved of read) {
        const record = resolved.event;
        if (!record || isForeignRecord(record)) continue;
        if (prefix && !record.streamId.startsWith(prefix)) continue;
        const event = toStoredEvent(record);
        if (after && event.position <= after) continue;
        events.push(event);
        if (options.maxBytes !== undefined) bytes += JSON.stringify(event.data).length;
        if (events.length >= maxCount || bytes >= (options.maxBytes ?? Number.POSITIVE_INFINITY)) {
          // Ends the gRPC call too: the server would otherwise send its one extra event.
          await read.cancel();
          break;
        }
      }
    });
    return events;
  }

  subscribeToStream(streamName: string, options: SubscribeToStreamOptions): AsyncIterable<StoredEvent> {
    return resilientSubscription<number>({
      signal: options.signal,
      cursor: options.after ?? -1,
      open: (after) =>
        this.client.subscribeToStream(streamName, { fromRevision: after < 0 ? START : BigInt(after) }),
      cursorOf: (event) => event.revision,
      isAfter: (event, after) => event.revision > after,
      accept: (event) => event.streamName === streamName,
      policy: this.resumePolicy,
      onDrop: this.options.onSubscriptionDrop,
    });
  }

  subscribeToAll(options: SubscribeToAllOptions): AsyncIterable<StoredEvent> {
    const prefix = options.streamPrefix;
    return resilientSubscription<string | null>({
      signal: options.signal,
      cursor: options.after ?? null,
      open: (after) =>
        this.client.subscribeToAll({
          fromPosition: after ? decodeEsdbPosition(after) : START,
          filter: prefix ? streamNameFilter({ prefixes: [prefix] }) : streamNameFilter(NOT_SYSTEM),
        }),
      cursorOf: (event) => event.position,
      isAfter: (event, after) => after === null || event.position > after,
      accept: (event) => !prefix || event.streamName.startsWith(prefix),
      policy: this.resumePolicy,
      onDrop: this.options.onSubscriptionDrop,
    });
  }

  /** $all positions have always been durable here: only checked (throws InvalidPositionError). */
  async normalizePosition(position: string): Promise<string> {
    return encodeEsdbPosition(decodeEsdbPosition(position));
  }

  async streamRevision(streamName: string): Promise<number | null> {
    return guarded(async () => {
      try {
        const read = this.client.readStream(streamName, {
          direction: BACKWARDS,
          fromRevision: END,
          maxCount: 1,
        });
        for await (const resolved of read as AsyncIterable<ResolvedEvent>) {
          const revision = resolved.event?.revision;
          if (revision !== undefined) return Number(revision);
        }
        return null;
      } catch (error) {
        if (error instanceof StreamNotFoundError) return null;
        throw error;
      }
    });
  }

  /** The last event of $all outside EventStoreDB's own streams, read backwards, filtered on the server. */
  async headPosition(): Promise<string | null> {
    return guarded(async () => {
      const read = readAllFiltered(this.client, {
        fromPosition: null,
        direction: "backwards",
        maxCount: 1,
        filter: NOT_SYSTEM,
      });
      for await (const resolved of read) {
        const position = resolved.event?.position;
        if (hasRealPosition(position)) return encodeEsdbPosition(position);
      }
      return null;
    });
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  /** Whether any of the events' ids is already in the stream (a stream of a run is short). */
  private async storesAnyOf(streamName: string, events: NewEvent[]): Promise<boolean> {
    const ids = new Set(events.map((event) => event.id));
    const stored = await this.readStream(streamName).catch(() => []);
    return stored.some((event) => ids.has(event.id));
  }
}
