/**
 * Wakes the claim loop: set by new events (with their position, so the loop can wait for the read
 * model to include them), by finished executions, or by nothing (the loop then polls after a timeout).
 */
export class Wakeup {
  private pending = false;
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
