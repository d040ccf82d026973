import { Wakeup } from "../../shared/wakeup.js";
import type { StoredEvent, SubscribeToAllOptions, SubscribeToStreamOptions } from "../event-store.js";
import type { PostgresEventStore } from "./postgres-event-store.js";

const PAGE_SIZE = 500;

async function* follow<Cursor>(
  store: PostgresEventStore,
  signal: AbortSignal,
  cursor: Cursor,
  interested: (streamName: string) => boolean,
  read: (cursor: Cursor) => Promise<StoredEvent[]>,
  advance: (event: StoredEvent) => Cursor,
  repollSoon: boolean,
): AsyncGenerator<StoredEvent> {
  const wakeup = new Wakeup(true);
  const stop = store.notifier.onAppend((streamName) => {
    if (streamName === "*" || interested(streamName)) wakeup.set();
  });
  // After a wake-up that found nothing (the global order can hold back rows behind an older
  // transaction still running), look again soon rather than a whole poll interval later.
  let retryMs = store.pollIntervalMs;
  try {
    while (!signal.aborted) {
      await wakeup.wait(retryMs, signal);
      let found = 0;
      // Drain everything available, page by page, before waiting again.
      for (;;) {
        if (signal.aborted) return;
        const events = await read(cursor);
        found += events.length;
        for (const event of events) {
          if (signal.aborted) return;
          cursor = advance(event);
          yield event;
        }
        if (events.length < PAGE_SIZE) break;
      }
      if (repollSoon) retryMs = found > 0 ? 5 : Math.min(retryMs * 2, store.pollIntervalMs);
    }
  } finally {
    stop();
  }
}

export function subscribeToStream(
  store: PostgresEventStore,
  streamName: string,
  options: SubscribeToStreamOptions,
): AsyncIterable<StoredEvent> {
  return follow<number>(
    store,
    options.signal,
    options.after ?? -1,
    (name) => name === streamName,
    (after) => store.readStream(streamName, { after, maxCount: PAGE_SIZE }),
    (event) => event.revision,
    false,
  );
}

export function subscribeToAll(
  store: PostgresEventStore,
  options: SubscribeToAllOptions,
): AsyncIterable<StoredEvent> {
  const prefix = options.streamPrefix ?? "";
  return follow<string | null>(
    store,
    options.signal,
    options.after ?? null,
    (name) => name.startsWith(prefix),
    (after) => store.readAll({ after, maxCount: PAGE_SIZE, streamPrefix: options.streamPrefix }),
    (event) => event.position,
    true,
  );
}
