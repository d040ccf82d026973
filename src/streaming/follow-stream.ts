import { EventStoreUnavailableError, type StoredEvent } from "../event-store/event-store.js";
import { aborted, Backoff, raceAbort, sleep } from "../shared/abortable.js";
import type { FeedEnd, LiveFeed, StreamHub } from "./live-feed.js";
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
    const caughtUpFrom = performance.now();
    let replayed = 0;
    let reached: { cursor: Cursor } | null = null;
    const catchingUp = catchUp(feed, source, after, queue, { ...options, pageSize }, stop.signal);
    for (;;) {
      const step = await catchingUp.next();
      if (step.done) {
        reached = step.value;
        break;
      }
      const item = step.value;
      if (item.kind !== "page") {
        yield item;
        continue;
      }
      for (const event of item.events) {
        if (stop.signal.aborted) return;
        replayed++;
        streamingMetrics.eventsDelivered.inc({ kind });
        yield { kind: "event", event };
      }
    }
    if (!reached) {
      if (queue.end) {
        const item = ended(queue.end);
        if (item) yield item;
      }
      return;
    }
    let cursor = reached.cursor;
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

/** What a catch-up hands over: pages of stored events, and store outages while it retries. */
export type CatchUpItem =
  | { kind: "page"; events: StoredEvent[] }
  | Extract<StreamItem, { kind: "unavailable" }>;

/** The subscriber's side of the feed, as a catch-up sees it. */
export interface CatchUpState {
  /** The feed dropped events meanwhile (set by the subscriber's buffer): read again. */
  overflowed: boolean;
  readonly end: FeedEnd | null;
  /** Bytes the last page took once delivered, when the caller measures them (pages sized by bytes). */
  readonly lastPageBytes?: number;
}

/**
 * The catch-up rule, one home for every delivery path: read pages of the stored events after `after`
 * until the end of what is stored AND until the shared feed covers what comes next. The caller
 * attaches to the feed BEFORE calling this, and afterwards drops from the feed what it already has,
 * by cursor. Returns the cursor reached, or null when stopped or ended (`state.end`).
 *
 * A feed is only started from a proven cursor (one of an event read here, or the stream's start) or
 * else marked unproven: a cursor beyond the store's head cannot make other subscribers re-read in a
 * loop waiting for a feed that starts where nothing is stored.
 */
export async function* catchUp<Cursor>(
  feed: LiveFeed<Cursor>,
  source: StreamSource<Cursor>,
  after: Cursor,
  state: CatchUpState,
  options: Pick<FollowOptions, "kind" | "retryInitialMs" | "retryMaxMs"> & {
    pageSize: number;
    /**
     * Pages sized by bytes: the first read takes one event, later ones as many as fit this budget
     * going by the previous page (up to x4 each time), so a subscriber that does not read never pins
     * a page of hundreds of large events.
     */
    maxPageBytes?: number;
  },
  stop: AbortSignal,
): AsyncGenerator<CatchUpItem, { cursor: Cursor } | null> {
  const { kind, pageSize, maxPageBytes } = options;
  let size = maxPageBytes ? 1 : pageSize;
  let cursor = after;
  let proven = after === source.start;
  const backoff = new Backoff(options.retryInitialMs, options.retryMaxMs);
  /** The page after a full one, read while the full one is delivered (a catch-up waits less). */
  let prefetched: { page: Promise<StoredEvent[]>; size: number } | null = null;
  /** Empty re-reads in a row while the feed says more is stored: the store's visibility lags. */
  let emptyRereads = 0;
  for (;;) {
    if (stop.aborted || state.end) return null;
    state.overflowed = false;
    let page: StoredEvent[];
    const readSize = prefetched?.size ?? size;
    try {
      const reading = prefetched?.page ?? source.read(cursor, readSize);
      prefetched = null;
      const read = await raceAbort(reading, stop);
      if (read === aborted) return null;
      page = read;
      backoff.reset();
    } catch (error) {
      if (!(error instanceof EventStoreUnavailableError)) throw error;
      const retryAfterMs = backoff.next();
      streamingMetrics.errors.inc({ kind, reason: "store_unavailable" });
      yield { kind: "unavailable", message: error.message, retryAfterMs };
      // Jitter: subscribers that failed together do not all come back in the same millisecond.
      await sleep(retryAfterMs * (0.8 + Math.random() * 0.4), stop);
      continue;
    }
    const last = page.at(-1);
    // Read ahead only at full speed: pages sized down by bytes are large enough as they are.
    if (page.length === readSize && size === pageSize && last) {
      prefetched = { page: source.read(source.cursorOf(last), size), size };
      // Awaited by the next turn of the loop; a stream that stops first must not leave it unhandled.
      prefetched.page.catch(() => undefined);
    }
    if (last) {
      cursor = source.cursorOf(last);
      proven = true;
      emptyRereads = 0;
      yield { kind: "page", events: page };
      if (maxPageBytes && state.lastPageBytes) {
        const fitting = Math.floor((page.length * maxPageBytes) / state.lastPageBytes);
        size = Math.max(1, Math.min(pageSize, page.length * 4, fitting));
      }
    }
    // A full page (the next one is on its way), or events the feed had to drop meanwhile: more may
    // be stored, read again.
    if (page.length === readSize || state.overflowed) continue;
    // Everything stored up to `cursor` is read. The feed hands over what comes after the point it
    // started at; when that point is past ours, the events in between are stored: read them first.
    const started = feed.startedAt;
    if (!started) {
      feed.start(cursor, proven);
      return { cursor };
    }
    if (!source.isAfter(started.cursor, cursor)) return { cursor };
    if (!started.proven) {
      feed.restart(cursor, proven);
      return { cursor };
    }
    if (!last) {
      // Stored but not visible to this read yet: wait a little instead of reading in a loop.
      emptyRereads++;
      await sleep(Math.min(options.retryInitialMs * emptyRereads, options.retryMaxMs), stop);
    }
  }
}
