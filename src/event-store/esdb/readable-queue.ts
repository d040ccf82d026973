import type { Readable } from "node:stream";

const HIGH_WATER = 256;
const LOW_WATER = 64;

/**
 * Pulls items out of a client subscription (a Readable) one at a time, racing every wait against an
 * AbortSignal. Not `for await`: a subscription whose gRPC call was cancelled or errored does not
 * always end its Readable, and an iterator stuck on it would never see the drop nor the abort.
 * Pauses the Readable while the consumer is behind, so a slow consumer holds bounded memory.
 */
export class ReadableQueue<T> {
  private readonly items: T[] = [];
  private failure: unknown = null;
  private ended = false;
  private wake: (() => void) | null = null;
  private readonly onAbort = () => this.notify();

  constructor(
    private readonly readable: Readable,
    private readonly signal: AbortSignal,
  ) {
    readable.on("data", (item: T) => {
      this.items.push(item);
      if (this.items.length >= HIGH_WATER) readable.pause();
      this.notify();
    });
    readable.on("error", (error: unknown) => {
      this.failure ??= error;
      this.notify();
    });
    readable.on("end", () => this.finish());
    readable.on("close", () => this.finish());
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /** The next item; undefined once the source ended or the signal aborted; throws the source's error. */
  async next(): Promise<T | undefined> {
    for (;;) {
      if (this.signal.aborted) return undefined;
      const item = this.items.shift();
      if (item !== undefined) {
        if (this.items.length <= LOW_WATER && this.readable.isPaused()) this.readable.resume();
        return item;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  dispose(): void {
    this.signal.removeEventListener("abort", this.onAbort);
    this.notify();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
