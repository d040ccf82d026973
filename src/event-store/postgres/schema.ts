import type pg from "pg";

/** The sequencer's advisory lock (two-key form: it shows in pg_locks as classid, objid). */
export const SEQUENCER_LOCK = [72_616_004, 1] as const;
/** The longest a stalled holder of the sequencer holds other appends back (see rs_append_batch). */
export const SEQUENCER_HOLD_LIMIT_MS = 5_000;

/**
 * The PostgreSQL event store owns its tables (the read models' migrations live with Prisma). Every
 * statement is idempotent, so every process runs this at start; it also converts a store written by
 * an earlier version (the DO block below).
 *
 * `position` is the global order: a plain number the store assigns in commit order under one lock
 * (the sequencer, see rs_append_batch and docs/global-log.md), so readers follow it with no filter,
 * and it survives pg_dump/pg_restore, physical copies and upgrades like any other column.
 * `transaction_id` is only kept for rows written before that (legacy cursors are translated with it).
 */
export const EVENT_STORE_SCHEMA = `
CREATE TABLE IF NOT EXISTS rs_events (
  seq bigserial PRIMARY KEY,
  position bigint NOT NULL,
  transaction_id xid8,
  stream_name text NOT NULL,
  revision bigint NOT NULL,
  event_id uuid NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT rs_events_stream_revision UNIQUE (stream_name, revision),
  CONSTRAINT rs_events_event_id UNIQUE (event_id)
);

-- Earlier versions kept each stream's revision in rs_streams and locked its row: locking a row assigns
-- the transaction id before the lock is granted, which broke the global order (see rs_append_batch).
DROP FUNCTION IF EXISTS rs_append(text, text, bigint, uuid[], text[], jsonb[], jsonb[], timestamptz[]);
DROP TABLE IF EXISTS rs_streams;

-- Stores written before the sequencer ordered the log by (transaction_id, seq) below
-- pg_snapshot_xmin. Number their rows in that order, once: every reader saw exactly that order, so a
-- legacy cursor (transaction_id, seq) is the prefix ending at the last row <= it (see legacyCursor).
-- Catalog checks first, so that an up-to-date store takes no table lock at start.
DO $conversion$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'rs_events'::regclass
                 AND attname = 'position' AND NOT attisdropped) THEN
    LOCK TABLE rs_events IN EXCLUSIVE MODE;
    ALTER TABLE rs_events ADD COLUMN position bigint;
    UPDATE rs_events e SET position = n.position
      FROM (SELECT seq, row_number() OVER (ORDER BY transaction_id, seq) AS position FROM rs_events) n
      WHERE e.seq = n.seq;
    ALTER TABLE rs_events ALTER COLUMN position SET NOT NULL,
      ALTER COLUMN transaction_id DROP NOT NULL, ALTER COLUMN transaction_id DROP DEFAULT;
    DROP INDEX IF EXISTS rs_events_global_order;
    -- Its result columns changed (transaction_id, seq -> position): CREATE OR REPLACE cannot do that.
    DROP FUNCTION IF EXISTS rs_append_batch(jsonb);
  END IF;
END $conversion$;
CREATE UNIQUE INDEX IF NOT EXISTS rs_events_position ON rs_events (position);
-- Only legacy rows have a transaction id: new rows cost this index nothing.
CREATE INDEX IF NOT EXISTS rs_events_legacy_order ON rs_events (transaction_id, seq)
  WHERE transaction_id IS NOT NULL;

-- Appends a group of appends in one transaction (one round trip, one commit): p_appends is
-- [{stream, expect: any|no_stream|stream_exists|exact, expected, events: [{id, type, data, metadata,
-- occurredAt}]}]. Each append is settled as if the group ran one after another, and reports a status
-- instead of raising, so one failing append writes nothing and leaves the others alone.
--
-- Global order: stream locks (advisory, in key order: no deadlocks between groups) guard each
-- stream's revision check; then, just before the first insert, the sequencer lock (one per database)
-- is taken and held until commit. Whoever holds it numbers its events after the highest committed
-- position, so positions are handed out in commit order with no gaps, and a reader that saw position
-- p has seen everything below p. A transaction that holds the sequencer and then stalls (a client
-- paused mid-transaction) holds other appends back, so it gets timeouts that end it: idle in
-- transaction ${SEQUENCER_HOLD_LIMIT_MS} ms, each later statement ${SEQUENCER_HOLD_LIMIT_MS} ms, and on
-- PostgreSQL 17+ the whole transaction.
CREATE OR REPLACE FUNCTION rs_append_batch(p_appends jsonb)
RETURNS TABLE (ord int, status text, revision bigint, "position" bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_append jsonb;
  v_ord int;
  v_stream text;
  v_expect text;
  v_current bigint;
  v_ids uuid[];
  v_count int;
  v_found int;
  v_same int;
  v_notify text[] := '{}';
  v_head bigint := NULL;
BEGIN
  PERFORM pg_advisory_xact_lock(k.key)
    FROM (SELECT DISTINCT hashtextextended(a->>'stream', 72616003) AS key
          FROM jsonb_array_elements(p_appends) a ORDER BY 1) k;

  FOR v_append, v_ord IN SELECT a.value, a.ordinality FROM jsonb_array_elements(p_appends) WITH ORDINALITY a
  LOOP
    v_stream := v_append->>'stream';
    v_expect := v_append->>'expect';
    v_ids := ARRAY(SELECT (e->>'id')::uuid FROM jsonb_array_elements(v_append->'events') e);
    v_count := cardinality(v_ids);
    SELECT coalesce(max(e.revision), -1) INTO v_current FROM rs_events e WHERE e.stream_name = v_stream;

    SELECT count(*), count(*) FILTER (WHERE e.stream_name = v_stream)
      INTO v_found, v_same FROM rs_events e WHERE e.event_id = ANY (v_ids);
    IF v_found > 0 THEN
      IF v_found = v_count AND v_same = v_count THEN
        RETURN QUERY SELECT v_ord, 'duplicate'::text, e.revision, e.position
          FROM rs_events e WHERE e.event_id = ANY (v_ids) ORDER BY e.position DESC LIMIT 1;
      ELSE
        RETURN QUERY SELECT v_ord, 'duplicate_id'::text, v_current, NULL::bigint;
      END IF;
      CONTINUE;
    END IF;

    IF (v_expect = 'exact' AND v_current <> (v_append->>'expected')::bigint)
       OR (v_expect = 'no_stream' AND v_current <> -1)
       OR (v_expect = 'stream_exists' AND v_current = -1) THEN
      RETURN QUERY SELECT v_ord, 'wrong_revision'::text, v_current, NULL::bigint;
      CONTINUE;
    END IF;

    IF v_head IS NULL THEN
      PERFORM pg_advisory_xact_lock(${SEQUENCER_LOCK[0]}, ${SEQUENCER_LOCK[1]});
      PERFORM set_config('idle_in_transaction_session_timeout', '${SEQUENCER_HOLD_LIMIT_MS}', true),
              set_config('statement_timeout', '${SEQUENCER_HOLD_LIMIT_MS}', true);
      IF current_setting('server_version_num')::int >= 170000 THEN
        PERFORM set_config('transaction_timeout', '${SEQUENCER_HOLD_LIMIT_MS * 4}', true);
      END IF;
      -- A new statement, so a new snapshot: it sees the previous holder's commit.
      SELECT coalesce(max(e.position), 0) INTO v_head FROM rs_events e;
    END IF;
    INSERT INTO rs_events (position, stream_name, revision, event_id, type, data, metadata, occurred_at)
      SELECT v_head + e.ord, v_stream, v_current + e.ord, e.id, e.type, e.data, coalesce(e.metadata, '{}'), e.occurred_at
      FROM ROWS FROM (jsonb_to_recordset(v_append->'events')
             AS (id uuid, type text, data jsonb, metadata jsonb, "occurredAt" timestamptz))
           WITH ORDINALITY AS e(id, type, data, metadata, occurred_at, ord)
      ORDER BY e.ord;
    v_notify := v_notify || v_stream;
    v_head := v_head + v_count;
    RETURN QUERY SELECT v_ord, 'ok'::text, v_current + v_count, v_head;
  END LOOP;

  -- One notification per group, delivered at commit (never for a rolled-back group): the stream names,
  -- or "*" when they would not fit in a payload.
  IF cardinality(v_notify) > 0 THEN
    PERFORM pg_notify('rs_events', CASE WHEN length(array_to_string(v_notify, E'\\n')) < 7900
      THEN array_to_string(v_notify, E'\\n') ELSE '*' END);
  END IF;
END $$;
`;

/** Concurrent first starts race on CREATE ... IF NOT EXISTS; an advisory lock makes them take turns. */
export async function ensureEventStoreSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(72616002)");
    await client.query(EVENT_STORE_SCHEMA);
  } finally {
    await client.query("SELECT pg_advisory_unlock(72616002)").catch(() => undefined);
    client.release();
  }
}
