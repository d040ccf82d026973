import type pg from "pg";

/**
 * The PostgreSQL event store owns its tables (the read models' migrations live with Prisma). Every
 * statement is idempotent, so every process runs this at start.
 *
 * `transaction_id` is what makes the global order safe to follow: sequence numbers commit out of
 * order under concurrent transactions, so readers only take rows whose transaction is older than the
 * oldest one still running (`pg_snapshot_xmin`) and order by (transaction_id, seq). See readAll.
 */
export const EVENT_STORE_SCHEMA = `
CREATE TABLE IF NOT EXISTS rs_events (
  seq bigserial PRIMARY KEY,
  transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
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
CREATE INDEX IF NOT EXISTS rs_events_global_order ON rs_events (transaction_id, seq);

-- Earlier versions kept each stream's revision in rs_streams and locked its row: locking a row assigns
-- the transaction id before the lock is granted, which broke the global order (see rs_append_batch).
DROP FUNCTION IF EXISTS rs_append(text, text, bigint, uuid[], text[], jsonb[], jsonb[], timestamptz[]);
DROP TABLE IF EXISTS rs_streams;

-- Appends a group of appends in one transaction (one round trip, one commit): p_appends is
-- [{stream, expect: any|no_stream|stream_exists|exact, expected, events: [{id, type, data, metadata,
-- occurredAt}]}]. Each append is settled as if the group ran one after another, and reports a status
-- instead of raising, so one failing append writes nothing and leaves the others alone.
--
-- Global order: readers follow (transaction_id, seq) below pg_snapshot_xmin, which matches each
-- stream's order only if a transaction writing a stream gets its id after every earlier writer of that
-- stream got theirs. So all stream locks are taken first, as advisory locks (they need no transaction
-- id), in key order (no deadlocks between groups); the id is assigned at the first insert after them.
CREATE OR REPLACE FUNCTION rs_append_batch(p_appends jsonb)
RETURNS TABLE (ord int, status text, revision bigint, transaction_id text, seq bigint)
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
        RETURN QUERY SELECT v_ord, 'duplicate'::text, e.revision, e.transaction_id::text, e.seq
          FROM rs_events e WHERE e.event_id = ANY (v_ids) ORDER BY e.seq DESC LIMIT 1;
      ELSE
        RETURN QUERY SELECT v_ord, 'duplicate_id'::text, v_current, NULL::text, NULL::bigint;
      END IF;
      CONTINUE;
    END IF;

    IF (v_expect = 'exact' AND v_current <> (v_append->>'expected')::bigint)
       OR (v_expect = 'no_stream' AND v_current <> -1)
       OR (v_expect = 'stream_exists' AND v_current = -1) THEN
      RETURN QUERY SELECT v_ord, 'wrong_revision'::text, v_current, NULL::text, NULL::bigint;
      CONTINUE;
    END IF;

    INSERT INTO rs_events (stream_name, revision, event_id, type, data, metadata, occurred_at)
      SELECT v_stream, v_current + e.ord, e.id, e.type, e.data, coalesce(e.metadata, '{}'), e.occurred_at
      FROM ROWS FROM (jsonb_to_recordset(v_append->'events')
             AS (id uuid, type text, data jsonb, metadata jsonb, "occurredAt" timestamptz))
           WITH ORDINALITY AS e(id, type, data, metadata, occurred_at, ord)
      ORDER BY e.ord;
    v_notify := v_notify || v_stream;
    RETURN QUERY SELECT v_ord, 'ok'::text, v_current + v_count, pg_current_xact_id()::text,
      currval('rs_events_seq_seq');
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
