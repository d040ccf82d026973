import { EventEmitter } from "node:events";
import type pg from "pg";

/**
 * One LISTEN connection per process, shared by every subscriber: appends NOTIFY `rs_events` with the
 * stream names they wrote. A lost connection is re-established with capped backoff; subscribers also poll, so a
 * notification lost meanwhile delays an event by one poll interval at most and never loses it.
 */
export class EventNotifier {
  private readonly emitter = new EventEmitter();
  private client: pg.PoolClient | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;
  private retryDelayMs = 100;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly pool: pg.Pool) {
    this.emitter.setMaxListeners(0);
  }

  /** Calls `listener(streamName)` on every append notification until the returned function is called. */
  onAppend(listener: (streamName: string) => void): () => void {
    this.ensureListening();
    this.emitter.on("append", listener);
    return () => this.emitter.off("append", listener);
  }

  get listening(): boolean {
    return this.client !== null;
  }

  private ensureListening(): void {
    if (this.closed || this.client || this.connecting || this.retryTimer) return;
    this.connecting = this.connect().finally(() => {
      this.connecting = null;
    });
  }

  private async connect(): Promise<void> {
    let client: pg.PoolClient | null = null;
    try {
      client = await this.pool.connect();
      client.on("notification", (message) => {
        // One notification per append group: the stream names it wrote, one per line (or "*").
        if (message.channel !== "rs_events") return;
        for (const streamName of (message.payload ?? "*").split("\n"))
          this.emitter.emit("append", streamName);
      });
      client.on("error", () => this.lost(client));
      await client.query("LISTEN rs_events");
      if (this.closed) {
        client.release(true);
        return;
      }
      this.client = client;
      this.retryDelayMs = 100;
      // Anything appended while we were not listening: wake everyone to re-read.
      this.emitter.emit("append", "*");
    } catch {
      client?.release(true);
      this.scheduleRetry();
    }
  }

  private lost(client: pg.PoolClient | null): void {
    if (client && this.client === client) {
      this.client = null;
      client.release(true);
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.emitter.listenerCount("append") > 0) this.ensureListening();
    }, delay);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.connecting;
    const client = this.client;
    this.client = null;
    if (client) {
      await client.query("UNLISTEN rs_events").catch(() => undefined);
      client.release(true);
    }
    this.emitter.removeAllListeners();
  }
}
