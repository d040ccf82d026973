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

const COLUMNS =
  "seq, transaction_id::text, stream_name, revision, event_id, type, data, metadata, occurred_at";

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
}

export class PostgresEventStore implements EventStore {
  readonly notifier: EventNotifier;
  readonly pollIntervalMs: number;

  private constructor(
    readonly pool: pg.Pool,
    options: PostgresEventStoreOptions,
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.notifier = new EventNotifier(pool);
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
    const mode = typeof expected === "number" ? "exact" : expected;
    const { rows } = await guarded(() =>
      this.pool.query<{
        status: string;
        revision: string;
        transaction_id: string | null;
        seq: string | null;
      }>(
        "SELECT * FROM rs_append($1, $2, $3, $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[], $8::timestamptz[])",
        [
          streamName,
          mode,
          typeof expected === "number" ? expected : null,
          events.map((event) => event.id),
          events.map((event) => event.type),
          events.map((event) => JSON.stringify(event.data)),
          events.map((event) => JSON.stringify(event.metadata ?? {})),
          events.map((event) => event.occurredAt.toISOString()),
        ],
      ),
    );
    const result = rows[0];
    if (!result) throw new Error("rs_append returned no row");
    const revision = Number(result.revision);
    switch (result.status) {
      case "ok":
      case "duplicate":
        return {
          nextExpectedRevision: revision,
          position: encodePosition(result.transaction_id ?? "0", result.seq ?? "0"),
          appended: result.status === "ok",
        };
      case "wrong_revision":
        throw new WrongExpectedRevisionError(streamName, expected, revision < 0 ? null : revision);
      case "duplicate_id":
        throw new DuplicateEventIdError(
          streamName,
          events.map((event) => event.id),
        );
      default:
        throw new Error(`rs_append returned unknown status ${result.status}`);
    }
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const { rows } = await guarded(() =>
      this.pool.query<EventRow>(
        `SELECT ${COLUMNS} FROM rs_events WHERE stream_name = $1 AND revision > $2 ORDER BY revision LIMIT $3`,
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
        `SELECT ${COLUMNS} FROM rs_events
         WHERE (transaction_id, seq) > ($1::text::xid8, $2::bigint)
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
           AND ($4::text IS NULL OR stream_name LIKE $4)
         ORDER BY transaction_id, seq LIMIT $3`,
        [after.transactionId.toString(), after.seq.toString(), options.maxCount ?? 1_000, prefix],
      ),
    );
    return rows.map(toStoredEvent);
  }

  async streamRevision(streamName: string): Promise<number | null> {
    const { rows } = await guarded(() =>
      this.pool.query<{ revision: string }>("SELECT revision FROM rs_streams WHERE stream_name = $1", [
        streamName,
      ]),
    );
    const revision = rows[0] ? Number(rows[0].revision) : -1;
    return revision < 0 ? null : revision;
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
