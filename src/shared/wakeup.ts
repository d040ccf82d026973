/**
 * A wake-up signal for a loop that otherwise polls: set by notifications (optionally with the newest
 * event position, so the loop can wait for the read model to include it), awaited by the loop. A set
 * that lands between the loop's work and its wait is not lost: it only marks "something new", and what
 * to do about it is decided by the loop's next read.
 */
export class Wakeup {
  /** `pending`: the first wait returns at once (the loop reads once before waiting). */
  constructor(private pending = false) {}

  private position: string | null = null;
  private resolve: (() => void) | null = null;

  set(position?: string): void {
    if (position && (this.position === null || position > this.position)) this.position = position;
    this.pending = true;
    this.resolve?.();
  }

  /** The newest event position seen since the last call, if any. */
  takePosition(): string | null {
    const position = this.position;
    this.position = null;
    return position;
  }

  /** Resolves on a wake-up, after `timeoutMs`, or when `signal` aborts. */
  async wait(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (!this.pending && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.resolve = null;
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal.addEventListener("abort", done, { once: true });
        this.resolve = done;
      });
    }
    this.pending = false;
  }
}
