import { Gauge } from "prom-client";
import { metricsRegistry } from "../streaming/metrics.js";
import type { AppendStatus, EventStore } from "./event-store.js";

/** Stores of this process whose appends can queue (several in tests; one in production). */
const watched = new Set<EventStore>();

async function worst(): Promise<AppendStatus> {
  const statuses = await Promise.all(
    [...watched].map((store) => store.appendStatus?.().catch(() => null) ?? Promise.resolve(null)),
  );
  return statuses.reduce<AppendStatus>(
    (acc, status) => ({
      heldForMs: Math.max(acc.heldForMs, status?.heldForMs ?? 0),
      waiting: Math.max(acc.waiting, status?.waiting ?? 0),
    }),
    { heldForMs: 0, waiting: 0 },
  );
}

// Both read at scrape time, from the database: what another process's stalled append does shows too.
new Gauge({
  name: "runstream_event_log_append_held_seconds",
  help: "How long the append holding the event log's sequencer has held it (0 when none): a stalled writer shows here",
  registers: [metricsRegistry],
  async collect() {
    this.set((await worst()).heldForMs / 1_000);
  },
});
new Gauge({
  name: "runstream_event_log_appends_waiting",
  help: "Appends waiting for the event log's sequencer behind the one holding it",
  registers: [metricsRegistry],
  async collect() {
    this.set((await worst()).waiting);
  },
});

/** Reports `store`'s append queue in /metrics until the returned function is called. */
export function watchEventLog(store: EventStore): () => void {
  if (!store.appendStatus) return () => undefined;
  watched.add(store);
  return () => watched.delete(store);
}
