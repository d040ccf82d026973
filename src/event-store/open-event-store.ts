import type { Config } from "../config/config.js";
import type { Database } from "../db/database.js";
import type { EventStore } from "./event-store.js";
import { PostgresEventStore } from "./postgres/postgres-event-store.js";

/** PostgreSQL unless EVENTSTORE_URL names an EventStoreDB/KurrentDB server. */
export async function openEventStore(
  config: Pick<Config, "EVENTSTORE_URL" | "STREAM_POLL_INTERVAL_MS">,
  db: Database,
): Promise<EventStore> {
  if (config.EVENTSTORE_URL) {
    throw new Error("EVENTSTORE_URL is set but the EventStoreDB backend is not built yet");
  }
  return PostgresEventStore.create(db.pool, { pollIntervalMs: config.STREAM_POLL_INTERVAL_MS });
}
