import type { StoredEvent } from "../event-store/event-store.js";
import type { FeedEnd, FeedListener } from "./live-feed.js";

/**
 * One subscriber's side of a live feed: what arrived since it last looked, bounded. While catching up
 * an overflow only drops the buffer (the store still has those events: read again); once live it
 * marks the subscriber slow, and the stream ends instead of growing memory.
 */
export class SubscriberQueue implements FeedListener {
  private buffer: StoredEvent[] = [];
  private wake: (() => void) | null = null;
  private live = false;
  /** Events were dropped since the flag was last cleared. */
  overflowed = false;
  slow = false;
  notice: { message: string; retryAfterMs: number } | null = null;
  end: FeedEnd | null = null;

  /** `onSlow`: called once, the moment the subscriber falls too far behind (even if never resumed). */
  constructor(
    private readonly maxBuffered: number,
    private readonly onSlow: () => void = () => {},
  ) {}

  event(event: StoredEvent): void {
    if (this.slow) return;
    if (this.buffer.length >= this.maxBuffered) {
      this.buffer = [];
      this.overflowed = true;
      if (this.live) {
        this.slow = true;
        this.onSlow();
      }
    } else {
      this.buffer.push(event);
    }
    this.notify();
  }

  unavailable(error: Error, retryAfterMs: number): void {
    this.notice = { message: error.message, retryAfterMs };
    this.notify();
  }

  ended(end: FeedEnd): void {
    this.end = end;
    this.notify();
  }

  goLive(): void {
    this.live = true;
    this.notice = null;
  }

  /** Everything buffered, oldest first; empties the buffer. */
  take(): StoredEvent[] {
    const taken = this.buffer;
    if (taken.length > 0) this.buffer = [];
    return taken;
  }

  get pending(): number {
    return this.buffer.length;
  }

  /** Resolves at the next thing that arrives, or when `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.buffer.length > 0 || this.notice || this.end || this.slow) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        this.wake = null;
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      this.wake = done;
    });
  }

  private notify(): void {
    this.wake?.();
  }
}
