import type pg from "pg";
import {
  type AppendOptions,
  type AppendResult,
  type AppendStatus,
  DuplicateEventIdError,
  type EventStore,
  EventStoreUnavailableError,
  InvalidPositionError,
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
import { decodePosition, encodePosition, type LegacyPosition, START_POSITION } from "./position.js";
import { ensureEventStoreSchema, SEQUENCER_LOCK } from "./schema.js";
import { subscribeToAll, subscribeToStream } from "./subscriptions.js";

interface EventRow {
  position: string;
  stream_name: string;
  revision: string;
  event_id: string;
  type: string;
  data: StoredEvent["data"];
  metadata: StoredEvent["metadata"];
  occurred_at: Date;
}

// bigint columns come back from pg as strings (no precision lost).
const COLUMNS =
  "e.position, e.stream_name, e.revision, e.event_id, e.type, e.data, e.metadata, e.occurred_at";

const READ_ALL = `SELECT ${COLUMNS} FROM rs_events e
  WHERE e.position > $1::bigint AND ($3::text IS NULL OR e.stream_name LIKE $3)
  ORDER BY e.position LIMIT $2`;

/**
 * READ_ALL cut where the data read so far reaches $4 bytes. A compressed value's stored size says
 * little about the memory it takes once read (1 MB of repetitive code stores in a few kB): those are
 * measured as text; the others by their stored size, which costs nothing to know.
 */
const READ_ALL_BOUNDED = `SELECT p.* FROM (
    SELECT s.*, sum(s.size) OVER (ORDER BY s.position ROWS UNBOUNDED PRECEDING) - s.size AS bytes_before
    FROM (SELECT ${COLUMNS}, CASE WHEN pg_column_compression(e.data) IS NULL THEN pg_column_size(e.data)
                                  ELSE octet_length(e.data::text) END AS size
          FROM rs_events e
          WHERE e.position > $1::bigint AND ($3::text IS NULL OR e.stream_name LIKE $3)
          ORDER BY e.position LIMIT $2) s
  ) p WHERE p.bytes_before < $4 ORDER BY p.position`;

export const toStoredEvent = (row: EventRow): StoredEvent => ({
  id: row.event_id,
  streamName: row.stream_name,
  revision: Number(row.revision),
  position: encodePosition(row.position),
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
          position: encodePosition(result.position ?? "0"),
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
   * Positions are assigned in commit order (see rs_append_batch), so everything committed is safe to
   * read: a position not yet visible can only be taken by a later commit, never below a visible one.
   */
  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const after = options.after ? await this.positionNumber(options.after) : START_POSITION;
    const prefix = options.streamPrefix ? `${options.streamPrefix.replace(/[\\%_]/g, "\\$&")}%` : null;
    const values = [after.toString(), options.maxCount ?? 1_000, prefix];
    const { rows } = await guarded(() =>
      options.maxBytes === undefined
        ? this.pool.query<EventRow>(READ_ALL, values)
        : this.pool.query<EventRow>(READ_ALL_BOUNDED, [...values, options.maxBytes]),
    );
    return rows.map(toStoredEvent);
  }

  async normalizePosition(position: string): Promise<string> {
    return encodePosition(await this.positionNumber(position));
  }

  private async positionNumber(position: string): Promise<bigint> {
    const decoded = decodePosition(position);
    return decoded.kind === "position" ? decoded.value : this.legacyCursor(decoded.legacy);
  }

  /**
   * A cursor handed out before the sequencer, (transaction id, seq): readers then saw the log in that
   * order, and the conversion numbered the old rows in that order, so the cursor stands for the
   * position of the last old row at or before it (0 when none). A store with no rows from before the
   * sequencer never handed such a cursor out: it is refused.
   */
  private async legacyCursor(legacy: LegacyPosition): Promise<bigint> {
    const { rows } = await guarded(() =>
      this.pool.query<{ position: string | null; has_legacy: boolean }>(
        `SELECT (SELECT e.position FROM rs_events e
                  WHERE e.transaction_id IS NOT NULL AND (e.transaction_id, e.seq) <= ($1::text::xid8, $2::bigint)
                  ORDER BY e.transaction_id DESC, e.seq DESC LIMIT 1) AS position,
                EXISTS (SELECT FROM rs_events e WHERE e.transaction_id IS NOT NULL) AS has_legacy`,
        [legacy.transactionId.toString(), legacy.seq.toString()],
      ),
    );
    const row = rows[0];
    if (!row?.has_legacy)
      throw new InvalidPositionError("not a position of this store (no events from before the sequencer)");
    return BigInt(row.position ?? START_POSITION);
  }

  async countEvents(streamPrefix: string): Promise<number> {
    const { rows } = await guarded(() =>
      this.pool.query<{ count: string }>(
        "SELECT count(*) FROM rs_events WHERE starts_with(stream_name, $1)",
        [streamPrefix],
      ),
    );
    return Number(rows[0]?.count ?? 0);
  }

  /** Who holds the sequencer lock, since when (its transaction's start), and how many wait for it. */
  async appendStatus(): Promise<AppendStatus> {
    const { rows } = await guarded(() =>
      this.pool.query<{ held_ms: number | null; waiting: number }>(
        `SELECT (SELECT extract(epoch FROM now() - min(a.xact_start)) * 1000
                   FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  WHERE l.locktype = 'advisory' AND l.database = d.oid AND l.classid = $1 AND l.objid = $2
                    AND l.objsubid = 2 AND l.granted)::float8 AS held_ms,
                (SELECT count(*) FROM pg_locks l
                  WHERE l.locktype = 'advisory' AND l.database = d.oid AND l.classid = $1 AND l.objid = $2
                    AND l.objsubid = 2 AND NOT l.granted)::int AS waiting
           FROM pg_database d WHERE d.datname = current_database()`,
        [SEQUENCER_LOCK[0], SEQUENCER_LOCK[1]],
      ),
    );
    const row = rows[0];
    return { heldForMs: Math.max(0, Math.round(row?.held_ms ?? 0)), waiting: row?.waiting ?? 0 };
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

  /** The highest committed position (positions are handed out in commit order, without gaps). */
  async headPosition(): Promise<string | null> {
    const { rows } = await guarded(() =>
      this.pool.query<{ position: string | null }>("SELECT max(position) AS position FROM rs_events"),
    );
    const position = rows[0]?.position;
    return position == null ? null : encodePosition(position);
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
