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
CREATE TABLE IF NOT EXISTS rs_streams (
  stream_name text PRIMARY KEY,
  revision bigint NOT NULL
);
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

-- One round trip per append: lock the stream row, settle idempotency and the expected revision,
-- insert, notify. Failures return a status instead of raising, which is cheaper.
CREATE OR REPLACE FUNCTION rs_append(
  p_stream text, p_expect text, p_expected bigint,
  p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[], p_occurred timestamptz[]
) RETURNS TABLE (status text, revision bigint, transaction_id text, seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_current bigint;
  v_found int;
  v_same int;
  v_count int := cardinality(p_ids);
  v_seq bigint;
BEGIN
  SELECT s.revision INTO v_current FROM rs_streams s WHERE s.stream_name = p_stream FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO rs_streams AS s (stream_name, revision) VALUES (p_stream, -1) ON CONFLICT DO NOTHING;
    SELECT s.revision INTO v_current FROM rs_streams s WHERE s.stream_name = p_stream FOR UPDATE;
  END IF;

  SELECT count(*), count(*) FILTER (WHERE e.stream_name = p_stream)
    INTO v_found, v_same FROM rs_events e WHERE e.event_id = ANY (p_ids);
  IF v_found > 0 THEN
    IF v_found = v_count AND v_same = v_count THEN
      RETURN QUERY SELECT 'duplicate'::text, e.revision, e.transaction_id::text, e.seq
        FROM rs_events e WHERE e.event_id = ANY (p_ids) ORDER BY e.seq DESC LIMIT 1;
    ELSE
      RETURN QUERY SELECT 'duplicate_id'::text, v_current, NULL::text, NULL::bigint;
    END IF;
    RETURN;
  END IF;

  IF (p_expect = 'exact' AND v_current <> p_expected)
     OR (p_expect = 'no_stream' AND v_current <> -1)
     OR (p_expect = 'stream_exists' AND v_current = -1) THEN
    RETURN QUERY SELECT 'wrong_revision'::text, v_current, NULL::text, NULL::bigint;
    RETURN;
  END IF;

  WITH inserted AS (
    INSERT INTO rs_events (stream_name, revision, event_id, type, data, metadata, occurred_at)
      SELECT p_stream, v_current + i.ord, i.id, i.type, i.data, i.metadata, i.occurred
      FROM unnest(p_ids, p_types, p_data, p_metadata, p_occurred) WITH ORDINALITY
        AS i(id, type, data, metadata, occurred, ord)
      ORDER BY i.ord
      RETURNING rs_events.seq
  ) SELECT max(inserted.seq) INTO v_seq FROM inserted;
  UPDATE rs_streams s SET revision = v_current + v_count WHERE s.stream_name = p_stream;
  PERFORM pg_notify('rs_events', p_stream);
  RETURN QUERY SELECT 'ok'::text, v_current + v_count, pg_current_xact_id()::text, v_seq;
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
