import type { Logger } from "../config/logger.js";
import { type EventStore, EventStoreUnavailableError, type StoredEvent } from "../event-store/event-store.js";
import { Wakeup } from "../shared/wakeup.js";
import { streamingMetrics } from "./metrics.js";

const PAGE_SIZE = 500;

export interface StreamDemuxOptions {
  logger?: Logger;
  /** Events held for one follower before they are let go and read again from the store. */
  maxQueuedEvents?: number;
}

/** One follower of one stream, as the shared subscription hands it events. */
interface Tap {
  readonly streamName: string;
  queue: StoredEvent[];
  /** The queue overflowed: what it dropped is read again from the store. */
  dropped: boolean;
  failure: Error | null;
  readonly wakeup: Wakeup;
}

/** The shared subscription while it runs. */
interface Shared {
  readonly controller: AbortController;
  /** Resolves once the subscription's start (the log's head) is fixed; rejects when it cannot be. */
  readonly started: Promise<void>;
}

/**
 * Live events of many streams (every run's) through ONE store subscription to all of them,
 * demultiplexed in process by stream name: 2,000 followed runs cost one store read per batch of
 * appended events, not one read (and one poll a second) per run.
 *
 * A follower of one stream registers first, then reads its stream from its cursor up to now, then
 * takes what the shared subscription handed it meanwhile, dropping by revision what it already
 * has. Nothing falls between the two: the shared subscription starts at the log's head, fixed
 * before any follower's first read, and positions are handed out in commit order, so an event is
 * either committed before the follower's read (and in it) or dispatched after its registration.
 */
export class StreamDemux {
  private readonly taps = new Map<string, Set<Tap>>();
  private shared: Shared | null = null;
  private tapCount = 0;
  private readonly logger: Logger | undefined;
  private readonly maxQueuedEvents: number;

  constructor(
    private readonly store: EventStore,
    private readonly streamPrefix: string,
    options: StreamDemuxOptions = {},
  ) {
    this.logger = options.logger;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 10_000;
  }

  /** Streams followed now (for tests and metrics). */
  get followed(): number {
    return this.taps.size;
  }

  /** Like `store.subscribeToStream`: events with revision > `after`, live, until `signal` aborts. */
  async *follow(streamName: string, after: number, signal: AbortSignal): AsyncGenerator<StoredEvent> {
    if (!streamName.startsWith(this.streamPrefix))
      throw new Error(`${streamName} is not under ${this.streamPrefix}`);
    const tap: Tap = { streamName, queue: [], dropped: false, failure: null, wakeup: new Wakeup() };
    const wake = () => tap.wakeup.set();
    signal.addEventListener("abort", wake, { once: true });
    this.register(tap);
    let last = after;
    try {
      await this.ensureShared().started;
      let reread = true;
      while (!signal.aborted) {
        if (tap.failure) throw tap.failure;
        if (reread) {
          // The store holds everything the queue would: read it from there (first time, or after an overflow).
          tap.dropped = false;
          tap.queue = [];
          for (;;) {
            const page = await this.store.readStream(streamName, { after: last, maxCount: PAGE_SIZE });
            for (const event of page) {
              if (signal.aborted) return;
              last = event.revision;
              yield event;
            }
            if (page.length < PAGE_SIZE) break;
          }
          reread = false;
        }
        const queued = tap.queue;
        tap.queue = [];
        for (const event of queued) {
          if (event.revision <= last) continue;
          if (signal.aborted) return;
          last = event.revision;
          yield event;
        }
        if (tap.dropped) {
          reread = true;
          continue;
        }
        if (tap.queue.length === 0 && !tap.failure) await tap.wakeup.wait(2 ** 31 - 1, signal);
      }
    } finally {
      signal.removeEventListener("abort", wake);
      this.unregister(tap);
    }
  }

  private register(tap: Tap): void {
    let taps = this.taps.get(tap.streamName);
    if (!taps) {
      taps = new Set();
      this.taps.set(tap.streamName, taps);
    }
    taps.add(tap);
    this.tapCount++;
  }

  private unregister(tap: Tap): void {
    const taps = this.taps.get(tap.streamName);
    if (!taps?.delete(tap)) return;
    this.tapCount--;
    if (taps.size === 0) this.taps.delete(tap.streamName);
    // Nobody left: stop reading (the next follower starts again at the head).
    if (this.tapCount === 0) this.stopShared();
  }

  private ensureShared(): Shared {
    if (this.shared) return this.shared;
    const controller = new AbortController();
    const started = this.store.headPosition().then((head) => {
      if (controller.signal.aborted) return;
      void this.dispatch(head, controller.signal);
    });
    const shared: Shared = { controller, started };
    // A head that cannot be read fails this start only: the next follower tries again.
    started.catch(() => {
      if (this.shared === shared) this.shared = null;
    });
    this.shared = shared;
    streamingMetrics.storeSubscriptions.inc();
    controller.signal.addEventListener("abort", () => streamingMetrics.storeSubscriptions.dec(), {
      once: true,
    });
    return shared;
  }

  private stopShared(): void {
    this.shared?.controller.abort();
    this.shared = null;
  }

  /** The shared subscription's loop: every event to the taps of its stream, in the global order. */
  private async dispatch(head: string | null, signal: AbortSignal): Promise<void> {
    try {
      const events = this.store.subscribeToAll({
        after: head ?? undefined,
        signal,
        streamPrefix: this.streamPrefix,
      });
      for await (const event of events) {
        if (signal.aborted) return;
        const taps = this.taps.get(event.streamName);
        if (!taps) continue;
        for (const tap of taps) {
          if (tap.dropped) continue;
          if (tap.queue.length >= this.maxQueuedEvents) {
            tap.queue = [];
            tap.dropped = true;
          } else tap.queue.push(event);
          tap.wakeup.set();
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      // Every follower fails with the store's error (its live feed retries from its own cursor,
      // which starts a new shared subscription); anything else is logged and reported as an outage.
      if (!(error instanceof EventStoreUnavailableError))
        this.logger?.error({ err: error }, "shared store subscription failed");
      const failure =
        error instanceof EventStoreUnavailableError
          ? error
          : new EventStoreUnavailableError("the shared store subscription failed", { cause: error });
      if (this.shared?.controller.signal === signal) this.stopShared();
      for (const taps of this.taps.values())
        for (const tap of taps) {
          tap.failure = failure;
          tap.wakeup.set();
        }
    }
  }
}
