import type { Logger } from "../config/logger.js";
import { EventStoreUnavailableError, type StoredEvent } from "../event-store/event-store.js";
import { Backoff, sleep } from "../shared/abortable.js";
import { streamingMetrics } from "./metrics.js";
import type { StreamSource } from "./stream-source.js";

/** What a subscriber hears from the live feed it is attached to. Called synchronously. */
export interface FeedListener {
  event(event: StoredEvent): void;
  /** The store failed; the feed tries again after `retryAfterMs`, from where it stopped. */
  unavailable(error: Error, retryAfterMs: number): void;
  /** The feed stopped for good: the stream's subject is gone, or the store failed unexpectedly. */
  ended(end: FeedEnd): void;
}

/** `closing`: the server is stopping; its clients resume elsewhere from their cursors. */
export interface FeedEnd {
  reason: "gone" | "failed" | "closing";
  message: string;
}

export interface FeedOptions {
  retryInitialMs: number;
  retryMaxMs: number;
  /** How often the feed checks that its stream's subject still exists (deleted or archived runs). */
  existsCheckMs: number;
  logger?: Logger;
}

/**
 * ONE store subscription for one stream, shared by all of its subscribers: 5,000 subscribers of a run
 * cost one store read per new event. It starts at the cursor of the first subscriber that finished
 * catching up, and from then on hands every later event, in order and once, to each listener.
 */
export class LiveFeed<Cursor> {
  private readonly listeners = new Set<FeedListener>();
  private readonly controller = new AbortController();
  /** Aborts the current store subscription only (a restart), not the feed. */
  private following: AbortController | null = null;
  private checking = false;
  private cursor: Cursor;
  /**
   * Where the feed started following, null until a subscriber started it. `proven`: the cursor of an
   * event read from the store (or the stream's start), so at or before the store's head. An unproven
   * start (a subscriber whose cursor matched nothing stored, perhaps one far beyond the head) is
   * replaced by the next earlier one (see `restart`), so that no subscriber's cursor decides where the
   * feed starts for the others.
   */
  startedAt: { cursor: Cursor; proven: boolean } | null = null;
  ended: FeedEnd | null = null;

  constructor(
    readonly source: StreamSource<Cursor>,
    private readonly options: FeedOptions,
    private readonly onClosed: (feed: LiveFeed<Cursor>) => void,
  ) {
    this.cursor = source.start;
    streamingMetrics.liveFeeds.inc();
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  attach(listener: FeedListener): void {
    if (this.ended) listener.ended(this.ended);
    else this.listeners.add(listener);
  }

  detach(listener: FeedListener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) this.close();
  }

  /** Follows the store from `cursor` on (no-op when already started). */
  start(cursor: Cursor, proven: boolean): void {
    if (this.startedAt || this.controller.signal.aborted) return;
    this.follow(cursor, proven);
  }

  /**
   * Follows again from an earlier cursor, when the feed's start is unproven: listeners already live
   * drop what they have seen by cursor, so they receive nothing twice.
   */
  restart(cursor: Cursor, proven: boolean): void {
    if (!this.startedAt || this.startedAt.proven || this.controller.signal.aborted) return;
    if (!this.source.isAfter(this.startedAt.cursor, cursor)) return;
    this.following?.abort();
    this.follow(cursor, proven);
  }

  private follow(cursor: Cursor, proven: boolean): void {
    this.startedAt = { cursor, proven };
    this.cursor = cursor;
    const following = new AbortController();
    this.following = following;
    const stop = () => following.abort();
    this.controller.signal.addEventListener("abort", stop, { once: true });
    void this.run(following.signal).finally(() => this.controller.signal.removeEventListener("abort", stop));
  }

  private async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.options.retryInitialMs, this.options.retryMaxMs);
    while (!signal.aborted) {
      const since = Date.now();
      try {
        for await (const event of this.source.follow(this.cursor, signal)) {
          // A restart aborted this subscription: the new one delivers from its own start.
          if (signal.aborted) return;
          this.cursor = this.source.cursorOf(event);
          streamingMetrics.feedEventsRead.inc();
          for (const listener of this.listeners) listener.event(event);
        }
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof EventStoreUnavailableError)) {
          this.options.logger?.error({ err: error, stream: this.source.key }, "live feed failed");
          this.end({ reason: "failed", message: "the stream failed unexpectedly" });
          return;
        }
        // A subscription that ran a good while before failing is a new outage, not the same one.
        if (Date.now() - since > this.options.retryMaxMs * 2) backoff.reset();
        const retryAfterMs = backoff.next();
        this.options.logger?.warn({ err: error, stream: this.source.key, retryAfterMs }, "store unavailable");
        for (const listener of this.listeners) listener.unavailable(error, retryAfterMs);
        await sleep(retryAfterMs, signal);
      }
    }
  }

  /** Ends the feed when its stream's subject is gone (called by the hub, for all feeds at once). */
  async checkExists(): Promise<void> {
    if (this.checking || this.ended || !this.source.exists) return;
    this.checking = true;
    try {
      if (!(await this.source.exists())) this.end({ reason: "gone", message: "the run no longer exists" });
    } catch {
      // The store is down: the feed itself reports that; existence is checked again next time.
    } finally {
      this.checking = false;
    }
  }

  /** Ends every listener and stops following. */
  end(end: FeedEnd): void {
    if (this.ended) return;
    this.ended = end;
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener.ended(end);
    this.close();
  }

  private close(): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort();
    streamingMetrics.liveFeeds.dec();
    this.onClosed(this);
  }
}

/**
 * The live feeds of one process, by stream key, and the one timer that checks their subjects still
 * exist: every feed at the same moment, so that the checks of 2,000 runs can go to the database as
 * one batch (see StreamingService.runExists) instead of 2,000 queries spread over the interval.
 */
export class StreamHub {
  private readonly feeds = new Map<string, LiveFeed<unknown>>();
  private existsTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: FeedOptions) {}

  /** The stream's live feed, created when it has none; attach to it at once (it closes when empty). */
  feed<Cursor>(source: StreamSource<Cursor>): LiveFeed<Cursor> {
    const existing = this.feeds.get(source.key) as LiveFeed<Cursor> | undefined;
    if (existing && !existing.ended) return existing;
    const feed: LiveFeed<Cursor> = new LiveFeed(source, this.options, (closed) => {
      if (this.feeds.get(source.key) !== closed) return;
      this.feeds.delete(source.key);
      if (this.feeds.size === 0) {
        clearInterval(this.existsTimer);
        this.existsTimer = undefined;
      }
    });
    this.feeds.set(source.key, feed as LiveFeed<unknown>);
    this.existsTimer ??= setInterval(() => {
      for (const each of this.feeds.values()) void each.checkExists();
    }, this.options.existsCheckMs).unref();
    return feed;
  }

  get size(): number {
    return this.feeds.size;
  }

  /** Ends every stream at shutdown. */
  close(): void {
    for (const feed of [...this.feeds.values()])
      feed.end({ reason: "closing", message: "the server is stopping" });
  }
}
