import { EventStoreUnavailableError, type StoredEvent } from "../event-store/event-store.js";
import { aborted, Backoff, raceAbort, sleep } from "../shared/abortable.js";
import type { StreamHub } from "./live-feed.js";
import { streamingMetrics } from "./metrics.js";
import type { StreamSource } from "./stream-source.js";
import { SubscriberQueue } from "./subscriber-queue.js";

/** What a subscriber receives. `end` is always the last item; a plain return is a clean end. */
export type StreamItem =
  | { kind: "event"; event: StoredEvent }
  /** The store failed; the stream goes on by itself when it is back (retry guidance for the client). */
  | { kind: "unavailable"; message: string; retryAfterMs: number }
  | { kind: "end"; reason: "slow-consumer" | "gone" | "failed"; message: string };

export interface FollowOptions {
  /** Aborts when the client goes away: every wait races it, and the stream stops at once. */
  signal: AbortSignal;
  /** Metrics label: the subscription's name. */
  kind: string;
  maxBufferedEvents: number;
  /** After this long the stream completes cleanly; the client resumes from its cursor. */
  maxDurationMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  pageSize?: number;
}

/**
 * The events of `source` after `after`: stored ones first (paged reads of the subscriber's own), then
 * live ones from the stream's shared feed, in order, each once. The subscriber attaches to the feed
 * BEFORE its first read and drops whatever it already has (by cursor), so events appended while it
 * catches up are neither lost nor repeated.
 */
export async function* followStream<Cursor>(
  hub: StreamHub,
  source: StreamSource<Cursor>,
  after: Cursor,
  options: FollowOptions,
): AsyncGenerator<StreamItem> {
  const { kind } = options;
  const pageSize = options.pageSize ?? 500;
  const feed = hub.feed(source);
  // A slow subscriber stops receiving at once: nothing more piles up for it while it is parked.
  const queue: SubscriberQueue = new SubscriberQueue(options.maxBufferedEvents, () => {
    streamingMetrics.errors.inc({ kind, reason: "slow_consumer" });
    feed.detach(queue);
  });
  feed.attach(queue);
  streamingMetrics.activeSubscriptions.inc({ kind });
  // Released at the abort itself, not only in `finally`: a generator parked at a `yield` whose
  // consumer never resumes it would otherwise keep its feed, timer and gauge for ever.
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    clearTimeout(durationTimer);
    options.signal.removeEventListener("abort", onAbort);
    feed.detach(queue);
    streamingMetrics.activeSubscriptions.dec({ kind });
  };
  const stop = new AbortController();
  const onAbort = () => {
    stop.abort();
    release();
  };
  options.signal.addEventListener("abort", onAbort, { once: true });
  const durationTimer = setTimeout(onAbort, options.maxDurationMs);
  if (options.signal.aborted) onAbort();
  const ended = (end: NonNullable<SubscriberQueue["end"]>): StreamItem | null => {
    if (end.reason === "closing") return null;
    streamingMetrics.errors.inc({ kind, reason: end.reason });
    return { kind: "end", reason: end.reason, message: end.message };
  };
  try {
    let cursor = after;
    const backoff = new Backoff(options.retryInitialMs, options.retryMaxMs);
    const caughtUpFrom = performance.now();
    let replayed = 0;
    /** The page after a full one, read while the full one is delivered (a catch-up waits less). */
    let prefetched: Promise<StoredEvent[]> | null = null;
    // Catch-up: read until the end of what is stored, and until the feed covers what comes next.
    for (;;) {
      if (stop.signal.aborted) return;
      if (queue.end) {
        const item = ended(queue.end);
        if (item) yield item;
        return;
      }
      queue.overflowed = false;
      let page: StoredEvent[];
      try {
        const reading = prefetched ?? source.read(cursor, pageSize);
        prefetched = null;
        const read = await raceAbort(reading, stop.signal);
        if (read === aborted) return;
        page = read;
        backoff.reset();
      } catch (error) {
        if (!(error instanceof EventStoreUnavailableError)) throw error;
        const retryAfterMs = backoff.next();
        streamingMetrics.errors.inc({ kind, reason: "store_unavailable" });
        yield { kind: "unavailable", message: error.message, retryAfterMs };
        // Jitter: subscribers that failed together do not all come back in the same millisecond.
        await sleep(retryAfterMs * (0.8 + Math.random() * 0.4), stop.signal);
        continue;
      }
      const last = page.at(-1);
      if (page.length === pageSize && last) {
        prefetched = source.read(source.cursorOf(last), pageSize);
        // Awaited by the next turn of the loop; a stream that stops first must not leave it unhandled.
        prefetched.catch(() => undefined);
      }
      for (const event of page) {
        if (stop.signal.aborted) return;
        cursor = source.cursorOf(event);
        replayed++;
        streamingMetrics.eventsDelivered.inc({ kind });
        yield { kind: "event", event };
      }
      // A full page (the next one is on its way), or events the feed had to drop meanwhile: more may
      // be stored, read again.
      if (page.length === pageSize || queue.overflowed) continue;
      // Everything stored up to `cursor` is read. The feed hands over what comes after the point it
      // started at; when that point is past ours, the events in between are stored: read them first.
      if (!feed.startedAt) feed.start(cursor);
      else if (source.isAfter(feed.startedAt.cursor, cursor)) continue;
      break;
    }
    streamingMetrics.catchUpEvents.observe({ kind }, replayed);
    streamingMetrics.catchUpSeconds.observe({ kind }, (performance.now() - caughtUpFrom) / 1_000);
    // Live: what the feed hands over, minus what catch-up already delivered.
    queue.goLive();
    for (;;) {
      if (stop.signal.aborted) return;
      const batch = queue.take();
      for (const event of batch) {
        const eventCursor = source.cursorOf(event);
        if (!source.isAfter(eventCursor, cursor)) continue;
        cursor = eventCursor;
        streamingMetrics.eventsDelivered.inc({ kind });
        yield { kind: "event", event };
        if (stop.signal.aborted) return;
      }
      if (queue.slow) {
        yield {
          kind: "end",
          reason: "slow-consumer",
          message: `more than ${options.maxBufferedEvents} events waiting: resume from the last cursor`,
        };
        return;
      }
      if (queue.end && queue.pending === 0) {
        const item = ended(queue.end);
        if (item) yield item;
        return;
      }
      if (queue.notice) {
        const { message, retryAfterMs } = queue.notice;
        queue.notice = null;
        streamingMetrics.errors.inc({ kind, reason: "store_unavailable" });
        yield { kind: "unavailable", message, retryAfterMs };
        continue;
      }
      if (batch.length === 0) await queue.wait(stop.signal);
    }
  } finally {
    release();
  }
}
