import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { AccessDeniedError, type RecordedEvent, UnavailableError } from "@eventstore/db-client";
import { describe, test } from "vitest";
import { toEventData } from "../../src/event-store/esdb/mapping.js";
import {
  type ResumePolicy,
  resilientSubscription,
  resumeDelay,
} from "../../src/event-store/esdb/resilient-subscription.js";
import { EventStoreUnavailableError, type StoredEvent } from "../../src/event-store/event-store.js";

/**
 * The resume logic of subscriptions, driven by scripted client subscriptions (Readables shaped like
 * the client's): what a real server does on a drop cannot be provoked on this machine.
 */

const FAST: ResumePolicy = { initialDelayMs: 1, maxDelayMs: 4, maxAttempts: 3 };

function record(revision: number, streamId = "run-a"): { event: RecordedEvent } {
  const data = toEventData({ id: randomUUID(), type: "T", data: { revision }, occurredAt: new Date() });
  return {
    event: {
      streamId,
      id: data.id,
      isJson: true,
      revision: BigInt(revision),
      type: "T",
      created: new Date(),
      data: data.data,
      metadata: data.metadata,
      position: { commit: BigInt(1000 + revision), prepare: BigInt(1000 + revision) },
    } as RecordedEvent,
  };
}

type Script = (readable: Readable) => void;

/** Opens scripted subscriptions in turn; records the cursors asked for and the unsubscribes. */
function scripted(scripts: Script[]) {
  const opened: number[] = [];
  let unsubscribed = 0;
  const open = (cursor: number) => {
    opened.push(cursor);
    const readable = new Readable({ objectMode: true, read() {} }) as Readable & {
      unsubscribe(): Promise<void>;
    };
    readable.unsubscribe = async () => {
      unsubscribed += 1;
      readable.destroy();
    };
    const script = scripts[opened.length - 1];
    setImmediate(() => (script ? script(readable) : undefined));
    return readable;
  };
  return { open, opened, unsubscribed: () => unsubscribed };
}

function follow(open: (cursor: number) => Readable & { unsubscribe(): Promise<void> }, signal: AbortSignal) {
  const drops: unknown[] = [];
  const iterable = resilientSubscription<number>({
    signal,
    cursor: -1,
    open,
    cursorOf: (event) => event.revision,
    isAfter: (event, cursor) => event.revision > cursor,
    policy: FAST,
    onDrop: (error) => drops.push(error),
  });
  return { iterable, drops };
}

async function take(iterable: AsyncIterable<StoredEvent>, count: number, controller: AbortController) {
  const events: StoredEvent[] = [];
  for await (const event of iterable) {
    events.push(event);
    if (events.length === count) controller.abort();
  }
  return events;
}

describe("resilient subscriptions", () => {
  test("a connection drop resumes after the last delivered event, without duplicates", async () => {
    const controller = new AbortController();
    const { open, opened, unsubscribed } = scripted([
      (r) => {
        for (const revision of [0, 1, 2]) r.push(record(revision));
        r.destroy(new UnavailableError(undefined, "keepalive timeout"));
      },
      // The server may send again what was already delivered (and foreign events): both skipped.
      (r) => {
        for (const revision of [1, 2, 3]) r.push(record(revision));
        r.push(record(0, "$stats-node"));
        for (const revision of [4, 5]) r.push(record(revision));
      },
    ]);
    const { iterable, drops } = follow(open, controller.signal);
    const events = await take(iterable, 6, controller);
    assert.deepEqual(
      events.map((event) => event.revision),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(opened, [-1, 2], "reopened after revision 2");
    assert.equal(drops.length, 1);
    assert.ok(drops[0] instanceof UnavailableError);
    assert.equal(unsubscribed(), 2, "every subscription opened is closed");
  });

  test("a subscription the server ends (leader change) is resumed too", async () => {
    const controller = new AbortController();
    const { open, opened } = scripted([
      (r) => {
        r.push(record(0));
        r.push(null);
      },
      (r) => r.push(record(1)),
    ]);
    const { iterable } = follow(open, controller.signal);
    const events = await take(iterable, 2, controller);
    assert.deepEqual(
      events.map((event) => event.revision),
      [0, 1],
    );
    assert.deepEqual(opened, [-1, 0]);
  });

  test("a refused subscription fails the iterator with the refusal", async () => {
    const controller = new AbortController();
    const { open } = scripted([(r) => r.destroy(new AccessDeniedError())]);
    const { iterable } = follow(open, controller.signal);
    await assert.rejects(take(iterable, 1, controller), AccessDeniedError);
  });

  test("drops in a row without progress end in EventStoreUnavailableError", async () => {
    const controller = new AbortController();
    const failing: Script = (r) => r.destroy(new UnavailableError(undefined, "down"));
    const { open, opened } = scripted([failing, failing, failing, failing, failing]);
    const { iterable, drops } = follow(open, controller.signal);
    await assert.rejects(take(iterable, 1, controller), EventStoreUnavailableError);
    assert.equal(opened.length, FAST.maxAttempts + 1);
    assert.equal(drops.length, FAST.maxAttempts);
  });

  test("aborting an idle subscription ends it promptly and closes it", async () => {
    const controller = new AbortController();
    const { open, unsubscribed } = scripted([() => undefined]);
    const { iterable } = follow(open, controller.signal);
    const started = performance.now();
    setTimeout(() => controller.abort(), 30);
    const events = await take(iterable, 1, controller);
    assert.deepEqual(events, []);
    assert.ok(performance.now() - started < 500);
    assert.equal(unsubscribed(), 1);
  });

  test("backoff doubles and is capped", () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 10 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 9].map((attempt) => resumeDelay(attempt, policy)),
      [100, 200, 400, 800, 1_000, 1_000],
    );
  });
});
