import type { Config } from "../config/config.js";
import type { Database } from "../db/database.js";
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
  if (config.EVENTSTORE_URL) {
    // Loaded only when used: the gRPC client costs ~0.4 s of start-up.
    const { EsdbEventStore } = await import("./esdb/esdb-event-store.js");
    return EsdbEventStore.connect(config.EVENTSTORE_URL);
  }
  return PostgresEventStore.create(db.pool, { pollIntervalMs: config.STREAM_POLL_INTERVAL_MS });
}
