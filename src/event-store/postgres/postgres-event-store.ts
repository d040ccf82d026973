import type pg from "pg";
import {
  type AppendOptions,
  type AppendResult,
  DuplicateEventIdError,
  type EventStore,
  EventStoreUnavailableError,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type SubscribeToAllOptions,
  type SubscribeToStreamOptions,
  WrongExpectedRevisionError,
} from "../event-store.js";
import { AppendBatcher, type AppendBatcherOptions } from "./append-batcher.js";
import { EventNotifier } from "./notifier.js";
import { decodePosition, encodePosition, START_POSITION } from "./position.js";
import { ensureEventStoreSchema } from "./schema.js";
import { subscribeToAll, subscribeToStream } from "./subscriptions.js";

interface EventRow {
  seq: string;
  transaction_id: string;
  stream_name: string;
  revision: string;
  event_id: string;
  type: string;
  data: StoredEvent["data"];
  metadata: StoredEvent["metadata"];
  occurred_at: Date;
}

// `transaction_id` goes out as text (xid8 would lose precision as a JS number). Queries must order
// by the table's column (`e.transaction_id`), not this output column: text orders "1000" before "999".
const COLUMNS =
  "e.seq, e.transaction_id::text AS transaction_id, e.stream_name, e.revision, e.event_id, e.type, e.data, e.metadata, e.occurred_at";

export const toStoredEvent = (row: EventRow): StoredEvent => ({
  id: row.event_id,
  streamName: row.stream_name,
  revision: Number(row.revision),
  position: encodePosition(row.transaction_id, row.seq),
  type: row.type,
  data: row.data,
  metadata: row.metadata,
  occurredAt: row.occurred_at,
});

/** Connection-level failures (server down, connection cut, pool exhausted) as opposed to bad SQL. */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? "";
  const message = (error as Error).message ?? "";
  return (
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "EPIPE",
      "ETIMEDOUT",
      "57P01",
      "57P02",
      "57P03",
      "08006",
      "08001",
      "08003",
    ].includes(code) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      message,
    )
  );
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUnavailable(error))
      throw new EventStoreUnavailableError((error as Error).message, { cause: error });
    throw error;
  }
}

export interface PostgresEventStoreOptions {
  /** How often subscribers re-read when no notification came (a lost LISTEN connection, say). */
  pollIntervalMs?: number;
  batching?: AppendBatcherOptions;
}

export class PostgresEventStore implements EventStore {
  readonly notifier: EventNotifier;
  readonly pollIntervalMs: number;
  private readonly batcher: AppendBatcher;

  private constructor(
    readonly pool: pg.Pool,
    options: PostgresEventStoreOptions,
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.notifier = new EventNotifier(pool);
    this.batcher = new AppendBatcher(pool, options.batching);
  }

  static async create(pool: pg.Pool, options: PostgresEventStoreOptions = {}): Promise<PostgresEventStore> {
    await ensureEventStoreSchema(pool);
    return new PostgresEventStore(pool, options);
  }

  async appendToStream(
    streamName: string,
    events: NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error("appendToStream needs at least one event");
    const expected = options.expectedRevision ?? "any";
    const result = await guarded(() => this.batcher.append({ streamName, events, expected })).catch(
      (error: unknown) => {
        // Two appends racing the same new ids into different streams: the loser hits the unique index.
        const { code, constraint } = error as { code?: string; constraint?: string };
        if (code === "23505" && constraint === "rs_events_event_id") {
          throw new DuplicateEventIdError(
            streamName,
            events.map((event) => event.id),
          );
        }
        throw error;
      },
    );
    switch (result.status) {
      case "ok":
      case "duplicate":
        return {
          nextExpectedRevision: result.revision,
          position: encodePosition(result.transactionId ?? "0", result.seq ?? "0"),
          appended: result.status === "ok",
        };
      case "wrong_revision":
        throw new WrongExpectedRevisionError(
          streamName,
          expected,
          result.revision < 0 ? null : result.revision,
        );
      case "duplicate_id":
        throw new DuplicateEventIdError(
          streamName,
          events.map((event) => event.id),
        );
      default:
        throw new Error(`rs_append_batch returned unknown status ${String(result.status)}`);
    }
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const { rows } = await guarded(() =>
      this.pool.query<EventRow>(
        `SELECT ${COLUMNS} FROM rs_events e WHERE e.stream_name = $1 AND e.revision > $2 ORDER BY e.revision LIMIT $3`,
        [streamName, options.after ?? -1, options.maxCount ?? null],
      ),
    );
    return rows.map(toStoredEvent);
  }

  /**
   * Only rows of transactions older than every transaction still running are read: a transaction
   * still in flight may hold a smaller seq than rows already visible, and a reader that moved past
   * it would skip its events for ever.
   */
  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const after = options.after ? decodePosition(options.after) : START_POSITION;
    const prefix = options.streamPrefix ? `${options.streamPrefix.replace(/[\\%_]/g, "\\$&")}%` : null;
    const { rows } = await guarded(() =>
      this.pool.query<EventRow>(
        `SELECT ${COLUMNS} FROM rs_events e
         WHERE (e.transaction_id, e.seq) > ($1::text::xid8, $2::bigint)
           AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
           AND ($4::text IS NULL OR e.stream_name LIKE $4)
         ORDER BY e.transaction_id, e.seq LIMIT $3`,
        [after.transactionId.toString(), after.seq.toString(), options.maxCount ?? 1_000, prefix],
      ),
    );
    return rows.map(toStoredEvent);
  }

  async streamRevision(streamName: string): Promise<number | null> {
    const { rows } = await guarded(() =>
      this.pool.query<{ revision: string | null }>(
        "SELECT max(revision) AS revision FROM rs_events WHERE stream_name = $1",
        [streamName],
      ),
    );
    const revision = rows[0]?.revision;
    return revision == null ? null : Number(revision);
  }

  subscribeToStream(streamName: string, options: SubscribeToStreamOptions): AsyncIterable<StoredEvent> {
    return subscribeToStream(this, streamName, options);
  }

  subscribeToAll(options: SubscribeToAllOptions): AsyncIterable<StoredEvent> {
    return subscribeToAll(this, options);
  }

  async close(): Promise<void> {
    await this.notifier.close();
  }
}
