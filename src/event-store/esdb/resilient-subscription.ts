import type { Readable } from "node:stream";
import type { RecordedEvent } from "@eventstore/db-client";
import { sleep } from "../../shared/abortable.js";
import { EventStoreUnavailableError, type StoredEvent } from "../event-store.js";
import { isTransientEsdbError, mapEsdbError } from "./errors.js";
import { isForeignRecord, toStoredEvent } from "./mapping.js";
import { ReadableQueue } from "./readable-queue.js";

export interface ResumePolicy {
  /** First wait after a drop; doubled on each further drop without progress. */
  initialDelayMs: number;
  /** Cap of that wait. */
  maxDelayMs: number;
  /** Consecutive drops without a single delivered event before giving up (the iterator throws). */
  maxAttempts: number;
}

export const DEFAULT_RESUME_POLICY: ResumePolicy = {
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  maxAttempts: 10,
};

/** Exponential backoff, capped: 100, 200, 400, ... maxDelayMs. */
export function resumeDelay(attempt: number, policy: ResumePolicy): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
}

export interface ResilientSubscriptionOptions<Cursor> {
  signal: AbortSignal;
  /** Where to start: the last delivered event's cursor, or the caller's `after`. */
  cursor: Cursor;
  /** Opens a catch-up-then-live subscription strictly after `cursor`. */
  open: (cursor: Cursor) => Readable & { unsubscribe(): Promise<void> };
  cursorOf: (event: StoredEvent) => Cursor;
  /** True when `event` lies after `cursor`: guards against redelivery across a resume. */
  isAfter: (event: StoredEvent, cursor: Cursor) => boolean;
  /** Extra filter on delivered events (the server filter is by prefix; this one is exact). */
  accept?: (event: StoredEvent) => boolean;
  policy?: ResumePolicy;
  /** Told about every drop that will be resumed (for logs and tests). */
  onDrop?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Events after the cursor, stored then live, each once, across subscription drops: when the server
 * ends the subscription or the connection fails (keep-alive timeout, leader change, restart), it is
 * opened again after the last delivered event, with capped exponential backoff. Ends when `signal`
 * aborts; throws on a refused subscription or after `maxAttempts` drops in a row without progress.
 */
export async function* resilientSubscription<Cursor>(
  options: ResilientSubscriptionOptions<Cursor>,
): AsyncGenerator<StoredEvent> {
  const { signal } = options;
  const policy = options.policy ?? DEFAULT_RESUME_POLICY;
  let cursor = options.cursor;
  let attempt = 0;
  while (!signal.aborted) {
    let dropped: unknown = null;
    let subscription: ReturnType<typeof options.open> | null = null;
    let queue: ReadableQueue<{ event?: RecordedEvent }> | null = null;
    try {
      subscription = options.open(cursor);
      queue = new ReadableQueue(subscription, signal);
      for (;;) {
        const resolved = await queue.next();
        if (resolved === undefined) break;
        const record = resolved.event;
        if (!record || isForeignRecord(record)) continue;
        const event = toStoredEvent(record);
        if (!options.isAfter(event, cursor) || (options.accept && !options.accept(event))) continue;
        cursor = options.cursorOf(event);
        attempt = 0;
        yield event;
        if (signal.aborted) return;
      }
      dropped = new EventStoreUnavailableError("the server ended the subscription");
    } catch (error) {
      if (signal.aborted) return;
      if (!isTransientEsdbError(error)) throw mapEsdbError(error);
      dropped = error;
    } finally {
      queue?.dispose();
      await subscription?.unsubscribe().catch(() => undefined);
    }
    if (signal.aborted) return;
    attempt += 1;
    if (attempt > policy.maxAttempts) {
      throw new EventStoreUnavailableError(`subscription dropped ${policy.maxAttempts} times in a row`, {
        cause: dropped,
      });
    }
    const delayMs = resumeDelay(attempt, policy);
    options.onDrop?.(dropped, attempt, delayMs);
    await sleep(delayMs, signal);
  }
}
