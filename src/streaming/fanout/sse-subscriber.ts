import type { ServerResponse } from "node:http";
import type { Writable } from "node:stream";
import { type CatchUpState, catchUp } from "../follow-stream.js";
import { streamingMetrics } from "../metrics.js";
import { type FanoutGroup, type FrameBatch, frameBatch, type GroupMember } from "./fanout-group.js";
import type { FanoutHub, HubMember } from "./fanout-hub.js";
import type { FanoutPlan } from "./fanout-plan.js";

const PING = Buffer.from(":\n\n");
const COMPLETE = Buffer.from("event: complete\ndata:\n\n");
/** A catch-up write holds at most about this much (one system call per chunk, not per event). */
const MAX_BATCH_BYTES = 64 * 1024;
/** How long an ended stream may take to flush before its socket is cut (a client that never reads). */
const END_GRACE_MS = 1_000;

/**
 * One SSE connection of the fan-out: a socket, a cursor and its group. It catches up on its own
 * (paged store reads, sized by bytes), then receives the group's shared frames; everything it is
 * written and its client has not taken yet is bounded in bytes (SLOW_CONSUMER past the limit).
 */
export class SseSubscriber implements GroupMember, HubMember, CatchUpState {
  overflowed = false;
  /** The group ends its members itself (`finish`); a catch-up never sees the feed's end. */
  readonly end = null;
  lastPageBytes = 0;
  private cursor: unknown;
  private live = false;
  private pending: { cursor: unknown; frame: Buffer }[] = [];
  private pendingBytes = 0;
  /** Released: no more writes, nothing held. */
  private closed = false;
  /** Ending (slow consumer): offers are ignored while the last frame is prepared. */
  private ending = false;
  private wrote = false;
  /** This subscriber's share of the hub's buffered bytes. */
  private counted = 0;
  /** Live events written while the socket's buffer was full, since it last drained. */
  private waiting = 0;
  private stop: AbortController | null = new AbortController();
  private durationTimer: NodeJS.Timeout | undefined;
  private drained: (() => void) | null = null;
  private res: ServerResponse | null = null;
  /** Where frames are written: the response's socket (or the response, see `start`). */
  private out: Writable | null = null;
  /** Until `start`: what it needs (then only the group's representative plan is kept). */
  private plan: FanoutPlan | null;
  private group!: FanoutGroup;
  private readonly kind: string;
  leaveGuard: () => void = () => {};

  constructor(
    private readonly hub: FanoutHub,
    plan: FanoutPlan,
  ) {
    this.plan = plan;
    this.kind = plan.kind;
    this.cursor = plan.after;
  }

  /** Takes the HTTP response over (its status and headers are written already). */
  start(res: ServerResponse): void {
    if (!this.plan) return;
    this.group = this.hub.group(this.plan);
    this.plan = null;
    this.res = res;
    const limits = this.hub.limits;
    res.on("close", () => this.release());
    // The frames go to the socket itself once the headers are out: a response's own write corks
    // the socket and uncorks it on the next tick (a quarter of the CPU of 5,000 subscribers,
    // measured). `res.socket` is null while an earlier response on the same connection is still
    // being written (pipelining): then the response's writes keep the order.
    res.flushHeaders();
    this.out = res.socket ?? res;
    this.out.on("drain", () => {
      this.waiting = 0;
      this.account();
      this.drained?.();
    });
    streamingMetrics.activeSubscriptions.inc({ kind: this.kind });
    this.hub.join(this);
    this.group.attach(this);
    if (res.destroyed) {
      this.release();
      return;
    }
    // Some browsers only fire `open` at a first byte; `retry:` is how long an EventSource waits to reconnect.
    this.write(Buffer.from(`:\n\nretry: ${limits.reconnectMs}\n\n`));
    this.durationTimer = setTimeout(() => this.finish(null), limits.maxDurationMs);
    this.catchUpThenLive().catch((error: unknown) => {
      this.group.plan.execution.contextValue.logger.error({ err: error }, "stream catch-up failed");
      void this.endWith("failed", "the stream failed unexpectedly");
    });
  }

  private async catchUpThenLive(): Promise<void> {
    const { source } = this.group.plan;
    const limits = this.hub.limits;
    const startedAt = performance.now();
    let replayed = 0;
    let cursor = this.cursor;
    for (;;) {
      const stop = this.stop;
      if (!stop) return;
      const pages = catchUp(
        this.group.feed,
        source,
        cursor,
        this,
        {
          kind: this.kind,
          retryInitialMs: limits.retryInitialMs,
          retryMaxMs: limits.retryMaxMs,
          pageSize: 500,
          maxPageBytes: limits.maxBufferedBytes,
        },
        stop.signal,
      );
      let reached: { cursor: unknown } | null = null;
      for (;;) {
        const step = await pages.next();
        if (step.done) {
          reached = step.value;
          break;
        }
        const item = step.value;
        if (item.kind === "unavailable") {
          await this.writeCatchingUp([await this.group.frameOf(item)]);
          continue;
        }
        const frames: Buffer[] = [];
        let bytes = 0;
        for (const event of item.events) {
          const visible = await this.group.visible(event);
          if (visible === "unknown")
            return this.endWith("failed", "cannot tell whose run an event belongs to");
          if (!visible) continue;
          const frame = await this.group.frameOf({ kind: "event", event });
          frames.push(frame);
          bytes += frame.length;
        }
        this.lastPageBytes = Math.max(1, bytes);
        replayed += frames.length;
        if (this.closed) return;
        await this.writeCatchingUp(frames);
      }
      if (!reached || this.closed) return;
      cursor = reached.cursor;
      // The feed dropped events after the catch-up's last look: read again from here.
      if (!this.overflowed) break;
    }
    // From here on, synchronously: what the feed handed over meanwhile, then live.
    this.stop = null;
    this.cursor = cursor;
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.live = true;
    streamingMetrics.eventsDelivered.inc({ kind: this.kind }, replayed);
    streamingMetrics.catchUpEvents.observe({ kind: this.kind }, replayed);
    streamingMetrics.catchUpSeconds.observe({ kind: this.kind }, (performance.now() - startedAt) / 1_000);
    let delivered = 0;
    for (const { cursor: next, frame } of pending) delivered += this.offer(frameBatch([next], [frame]));
    streamingMetrics.eventsDelivered.inc({ kind: this.kind }, delivered);
  }

  /** Writes catch-up frames in chunks, waiting while the client is behind by more than the limit. */
  private async writeCatchingUp(frames: Buffer[]): Promise<void> {
    let from = 0;
    while (from < frames.length && !this.closed) {
      let to = from;
      let size = 0;
      while (to < frames.length && (to === from || size + (frames[to]?.length ?? 0) <= MAX_BATCH_BYTES)) {
        size += frames[to]?.length ?? 0;
        to++;
      }
      // Within the limit: what is still waiting plus this chunk (a lone larger frame waits for an empty buffer).
      if (this.counted > 0 && this.counted + size > this.hub.limits.maxBufferedBytes) await this.drain();
      if (this.closed) return;
      this.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames.slice(from, to), size));
      from = to;
    }
  }

  /** Resolves when the client took what was written, or the stream ended. */
  private drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = () => {
        this.drained = null;
        resolve();
      };
    });
  }

  offer(batch: FrameBatch): number {
    if (this.closed || this.ending) return 0;
    const limits = this.hub.limits;
    const { cursors, frames } = batch;
    if (!this.live) {
      // While catching up, an overflow only drops the buffer: the store still has those events.
      cursors.forEach((cursor, index) => {
        if (this.pending.length >= limits.maxBufferedEvents || this.pendingBytes > limits.maxBufferedBytes) {
          this.pending = [];
          this.pendingBytes = 0;
          this.overflowed = true;
          return;
        }
        const frame = frames[index] as Buffer;
        this.pending.push({ cursor, frame });
        this.pendingBytes += frame.length;
      });
      return 0;
    }
    const isAfter = this.group.plan.source.isAfter;
    let from = 0;
    while (from < cursors.length && !isAfter(cursors[from], this.cursor)) from++;
    if (from === cursors.length) return 0;
    // The group's bytes as they are, unless this member already had the first of them (rare: at
    // the end of its catch-up).
    const chunk = from === 0 ? batch.joined : Buffer.concat(frames.slice(from));
    this.cursor = cursors[cursors.length - 1];
    const count = cursors.length - from;
    if (this.out?.writableNeedDrain) this.waiting += count;
    this.write(chunk);
    if (
      this.counted > limits.maxBufferedBytes ||
      this.waiting > limits.maxBufferedEvents ||
      (this.hub.bufferedBytes > limits.maxBufferedBytesTotal && this.counted > chunk.length)
    ) {
      this.slowConsumer();
    }
    return count;
  }

  notice(frame: Buffer): void {
    if (this.live && !this.closed && !this.ending) this.write(frame);
  }

  keepAlive(): void {
    if (!this.wrote && !this.closed) this.write(PING);
    this.wrote = false;
  }

  /** Ends the stream with `frame` (then `complete`), or completes it cleanly (null). */
  finish(frame: Buffer | null): void {
    const res = this.res;
    if (this.closed || !res) return;
    const buffered = this.counted;
    this.release();
    res.end(frame ? Buffer.concat([frame, COMPLETE]) : COMPLETE);
    // A client that reads nothing would hold what is buffered for it until its socket times out.
    if (buffered > 0) setTimeout(() => res.destroy(), END_GRACE_MS).unref();
  }

  private slowConsumer(): void {
    this.ending = true;
    streamingMetrics.errors.inc({ kind: this.kind, reason: "slow_consumer" });
    const { maxBufferedBytes, maxBufferedEvents } = this.hub.limits;
    const limits = `${maxBufferedEvents} events or ${maxBufferedBytes} bytes`;
    void this.endWith("slow-consumer", `more than ${limits} waiting: resume from the last cursor`);
  }

  private async endWith(reason: "slow-consumer" | "failed", message: string): Promise<void> {
    this.ending = true;
    this.finish(await this.group.frameOf({ kind: "end", reason, message }));
  }

  private write(chunk: Buffer): void {
    this.out?.write(chunk);
    this.wrote = true;
    this.account();
  }

  private account(): void {
    const now = this.closed ? 0 : (this.out?.writableLength ?? 0);
    this.hub.bufferedBytes += now - this.counted;
    this.counted = now;
  }

  /** Lets go of everything: group, hub, guard, timers, buffers. Idempotent. */
  private release(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop?.abort();
    this.stop = null;
    clearTimeout(this.durationTimer);
    this.pending = [];
    this.group.detach(this);
    this.hub.leave(this);
    this.leaveGuard();
    this.account();
    this.drained?.();
    streamingMetrics.activeSubscriptions.dec({ kind: this.kind });
  }
}
