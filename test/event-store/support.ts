import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type pg from "pg";
import type { EventStore, NewEvent, StoredEvent } from "../../src/event-store/event-store.js";

/** A unique name per test, so suites can share one store (and one server) without seeing each other. */
export const uniqueName = (prefix: string): string => `${prefix}${randomUUID().slice(0, 8)}-`;

export const newEvent = (type = "Tested", data: NewEvent["data"] = {}): NewEvent => ({
  id: randomUUID(),
  type,
  data,
  occurredAt: new Date(),
});

export const newEvents = (count: number, type = "Tested"): NewEvent[] =>
  Array.from({ length: count }, (_, index) => newEvent(type, { index }));

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `read` until `done` accepts its result. A store may make appended events visible to the
 * global order a little later (PostgreSQL holds back rows behind any transaction still running on the
 * server), so global reads in tests wait for what they expect rather than assume it is there at once.
 */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(20);
  }
}

/** Reads every event of the streams starting with `prefix`, page by page, once `count` are visible. */
export async function readAllWithPrefix(
  store: EventStore,
  prefix: string,
  count: number,
): Promise<StoredEvent[]> {
  const readEverything = async () => {
    const events: StoredEvent[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await store.readAll({ after, streamPrefix: prefix, maxCount: 1_000 });
      events.push(...page);
      const last = page.at(-1);
      if (!last) return events;
      after = last.position;
    }
  };
  return eventually(readEverything, (events) => events.length >= count);
}

/**
 * Consumes a subscription in the background into `events` until stopped, so a test can append while
 * it runs, wait for what it expects, then check nothing more (a duplicate, say) arrives.
 */
export class Subscriber {
  readonly events: StoredEvent[] = [];
  private readonly controller = new AbortController();
  private readonly done: Promise<void>;
  failure: unknown = null;
  private waiters: Array<() => void> = [];

  constructor(subscribe: (signal: AbortSignal) => AsyncIterable<StoredEvent>) {
    this.done = (async () => {
      try {
        for await (const event of subscribe(this.controller.signal)) {
          this.events.push(event);
          for (const wake of this.waiters) wake();
        }
      } catch (error) {
        this.failure = error;
      }
      for (const wake of this.waiters) wake();
    })();
  }

  /** Resolves once `count` events arrived; rejects after `timeoutMs` with what did arrive. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<StoredEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < count) {
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`subscriber got ${this.events.length} of ${count} events in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
    return this.events;
  }

  /** Aborts and resolves when the iterator has ended, with how long that took. */
  async stop(): Promise<number> {
    const started = performance.now();
    this.controller.abort();
    await this.done;
    if (this.failure) throw this.failure;
    return performance.now() - started;
  }
}

/** Throws unless positions strictly increase when compared as plain strings. */
export function assertIncreasingPositions(events: StoredEvent[]): void {
  for (let index = 1; index < events.length; index++) {
    const previous = events[index - 1] as StoredEvent;
    const current = events[index] as StoredEvent;
    if (!(previous.position < current.position)) {
      throw new Error(`position ${current.position} at ${index} does not follow ${previous.position}`);
    }
  }
}

/**
 * rs_append_batch as the PostgreSQL store calls it, inside a transaction the test controls, so that the
 * append can commit late, roll back, or stall while holding what an append holds.
 */
export async function appendInTransaction(
  client: pg.ClientBase,
  stream: string,
  events: NewEvent[],
): Promise<void> {
  const appends = [
    {
      stream,
      expect: "any",
      events: events.map((event) => ({ ...event, metadata: {}, occurredAt: event.occurredAt.toISOString() })),
    },
  ];
  const { rows } = await client.query<{ status: string }>("SELECT status FROM rs_append_batch($1::jsonb)", [
    JSON.stringify(appends),
  ]);
  assert.equal(rows[0]?.status, "ok");
}
