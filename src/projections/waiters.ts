import { ReadModelTimeoutError } from "./projection-engine.js";

interface Waiter {
  position: string;
  resolve: () => void;
  timer: NodeJS.Timeout;
}

/** Callers waiting for a checkpoint to reach a position; positions compare as strings. */
export class PositionWaiters {
  private waiters = new Set<Waiter>();

  constructor(private readonly reached: (position: string) => boolean) {}

  wait(position: string, timeoutMs: number, label: string): Promise<void> {
    if (this.reached(position)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        position,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new ReadModelTimeoutError(
              `the read model ${label} did not reach position ${position} within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Call after the checkpoint moved: releases every waiter it has now passed. */
  check(): void {
    for (const waiter of this.waiters) {
      if (!this.reached(waiter.position)) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  }
}

/** A wake-up for a loop waiting for more work: every `wait()` resolves at the next `notify()`. */
export class Notifier {
  private pending: (() => void)[] = [];

  notify(): void {
    const pending = this.pending;
    this.pending = [];
    for (const resolve of pending) resolve();
  }

  wait(): Promise<void> {
    return new Promise((resolve) => this.pending.push(resolve));
  }
}
