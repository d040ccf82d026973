import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { StepResult } from "../pipelines/pipeline.js";
import type { StepTask, ThreadMessage } from "./step-thread-protocol.js";

/** The step's executor died or ran over its budget: the step fails, and the failure is an attempt. */
export class StepExecutorError extends Error {
  override name = "StepExecutorError";
}

export interface StepRunOptions {
  /** Aborted on cancellation, lost lease, worker stop or the step's time budget: the thread is terminated. */
  signal: AbortSignal;
  reportProgress(progress: number | null, message?: string): Promise<void>;
}

// Under tsx (development, tests) the thread must learn TypeScript first; compiled code needs nothing.
const THREAD_ENTRY = new URL(
  `./step-thread${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`,
  import.meta.url,
);
// tsx's ESM API (its `import` export); require.resolve would name the CommonJS build instead.
const TSX_API = THREAD_ENTRY.pathname.endsWith(".ts")
  ? pathToFileURL(
      path.join(
        path.dirname(createRequire(import.meta.url).resolve("tsx/package.json")),
        "dist/esm/api/index.mjs",
      ),
    ).href
  : null;
const BOOT = `
const { workerData } = require("node:worker_threads");
(async () => {
  if (workerData.tsxApi) (await import(workerData.tsxApi)).register();
  await import(workerData.entry);
})().catch((error) => { setImmediate(() => { throw error; }); });
`;

/**
 * Worker threads that execute pipeline steps, so a CPU-heavy step never blocks the event loop that
 * serves the API, leases and heartbeats. A thread runs one step at a time and is reused; a thread
 * whose step is aborted (cancelled, lost, over its budget) is terminated (the only way to stop synchronous code), and a
 * thread that dies (crash, heap limit) fails its step with a StepExecutorError.
 */
export class StepThreads {
  private readonly idle: Worker[] = [];
  private readonly busy = new Set<Worker>();
  private closed = false;
  /** Slots taken (checked and taken in one go, so two callers cannot take the last one). */
  private inUse = 0;

  /** Steps waiting for a thread, oldest first. */
  private readonly waiting: (() => void)[] = [];

  /** `size` threads at most: each holds a parser and its heap, and steps beyond them queue. */
  /**
   * `preload`: pipeline modules every thread imports as it starts. Threads are started at once and
   * kept, so the first step of a run does not wait for a thread to boot and load its parser.
   */
  constructor(private readonly settings: { memoryMb: number; size: number; preload: string[] }) {
    for (let index = 0; index < settings.size; index++) this.idle.push(this.spawn());
  }

  /** Takes a slot once one is free (false if `signal` aborted first). */
  private async slot(signal: AbortSignal): Promise<boolean> {
    while (this.inUse >= this.settings.size) {
      if (signal.aborted) return false;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          signal.removeEventListener("abort", wake);
          const index = this.waiting.indexOf(wake);
          if (index >= 0) this.waiting.splice(index, 1);
          resolve();
        };
        this.waiting.push(wake);
        signal.addEventListener("abort", wake, { once: true });
      });
    }
    if (signal.aborted) return false;
    this.inUse++;
    return true;
  }

  private release(): void {
    this.inUse--;
    this.waiting.shift()?.();
  }

  private spawn(): Worker {
    const thread = new Worker(BOOT, {
      eval: true,
      workerData: { entry: THREAD_ENTRY.href, tsxApi: TSX_API, preload: this.settings.preload },
      resourceLimits: { maxOldGenerationSizeMb: this.settings.memoryMb },
    });
    // An idle thread may still die (a step's stray promise rejecting later): an 'error' event with no
    // listener would take the whole process down, so there is always one, and a dead thread leaves
    // the idle list. A busy thread's own listeners fail its step.
    thread.on("error", () => undefined);
    thread.on("exit", () => {
      const index = this.idle.indexOf(thread);
      if (index >= 0) this.idle.splice(index, 1);
    });
    return thread;
  }

  async run(task: StepTask, options: StepRunOptions): Promise<StepResult> {
    if (!(await this.slot(options.signal))) throw options.signal.reason;
    const thread = this.idle.pop() ?? this.spawn();
    this.busy.add(thread);
    return new Promise<StepResult>((resolve, reject) => {
      let settled = false;
      let reports: Promise<void> = Promise.resolve();
      const finish = (outcome: () => void, keepThread: boolean): void => {
        if (settled) return;
        settled = true;
        options.signal.removeEventListener("abort", onAbort);
        thread.off("message", onMessage).off("error", onError).off("exit", onExit);
        this.busy.delete(thread);
        this.release();
        if (keepThread && this.idle.length < this.settings.size) this.idle.push(thread);
        else {
          void thread.terminate();
          // A thread takes a while to start: replace a lost one now, not when the next step waits.
          if (!keepThread && !this.closed && this.idle.length < this.settings.size) {
            this.idle.push(this.spawn());
          }
        }
        outcome();
      };
      // Progress reports go out in order, and all before the step's result.
      const onMessage = (message: ThreadMessage): void => {
        if (message.type === "progress") {
          reports = reports
            .then(() => options.reportProgress(message.progress, message.message ?? undefined))
            .catch((error: unknown) => finish(() => reject(error), false));
          return;
        }
        void reports.then(() =>
          message.type === "done"
            ? finish(() => resolve(message.result as unknown as StepResult), true)
            : finish(() => reject(new Error(message.error)), true),
        );
      };
      const onError = (error: Error): void =>
        finish(
          () => reject(new StepExecutorError(`the step's executor thread died: ${error.message}`)),
          false,
        );
      const onExit = (code: number): void =>
        finish(
          () =>
            reject(
              new StepExecutorError(
                `the step's executor thread exited with code ${code} before the step finished`,
              ),
            ),
          false,
        );
      const onAbort = (): void => finish(() => reject(options.signal.reason), false);
      thread.on("message", onMessage).on("error", onError).on("exit", onExit);
      if (options.signal.aborted) onAbort();
      else {
        options.signal.addEventListener("abort", onAbort, { once: true });
        thread.postMessage(task);
      }
    });
  }

  /** Stops every thread (the worker is stopping; running steps were aborted already). */
  async close(): Promise<void> {
    this.closed = true;
    const threads = [...this.idle.splice(0), ...this.busy];
    this.busy.clear();
    await Promise.allSettled(threads.map((thread) => thread.terminate()));
  }
}
