import type { Config } from "../config/config.js";
import type { Database } from "../db/database.js";
import { EsdbEventStore } from "./esdb/esdb-event-store.js";
import type { EventStore } from "./event-store.js";
import { PostgresEventStore } from "./postgres/postgres-event-store.js";

/**
 * PostgreSQL unless EVENTSTORE_URL names an EventStoreDB/KurrentDB server. Either way the read
 * models (runs, steps, leases, projection checkpoints) stay in PostgreSQL, fed by projections.
 */
export async function openEventStore(
  config: Pick<Config, "EVENTSTORE_URL" | "STREAM_POLL_INTERVAL_MS">,
  db: Database,
): Promise<EventStore> {
  if (config.EVENTSTORE_URL) return EsdbEventStore.connect(config.EVENTSTORE_URL);
  return PostgresEventStore.create(db.pool, { pollIntervalMs: config.STREAM_POLL_INTERVAL_MS });
}
