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
): AsyncGenerator<StoredEvent> {
  const wakeup = new Wakeup(true);
  const stop = store.notifier.onAppend((streamName) => {
    if (streamName === "*" || interested(streamName)) wakeup.set();
  });
  // Positions are handed out in commit order, so a notification always finds its events: nothing is
  // held back behind a transaction still running, and the poll is only a safety net for lost NOTIFYs.
  try {
    while (!signal.aborted) {
      await wakeup.wait(store.pollIntervalMs, signal);
      // Drain everything available, page by page, before waiting again.
      for (;;) {
        if (signal.aborted) return;
        const events = await read(cursor);
        for (const event of events) {
          if (signal.aborted) return;
          cursor = advance(event);
          yield event;
        }
        if (events.length < PAGE_SIZE) break;
      }
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
  );
}
