import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import {
  AccessDeniedError,
  ANY,
  EventStoreDBClient,
  NO_STREAM,
  type RecordedEvent,
  STREAM_EXISTS,
  UnavailableError,
  WrongExpectedVersionError,
} from "@eventstore/db-client";
import { describe, test } from "vitest";
import {
  isTransientEsdbError,
  mapEsdbError,
  toWrongExpectedRevision,
} from "../../src/event-store/esdb/errors.js";
import { EsdbEventStore } from "../../src/event-store/esdb/esdb-event-store.js";
import { buildFilteredReadRequest, supportsFilteredRead } from "../../src/event-store/esdb/filtered-read.js";
import {
  decodeEsdbPosition,
  encodeEsdbPosition,
  fromEsdbCurrentRevision,
  hasRealPosition,
  isForeignRecord,
  MissingEsdbPositionError,
  normalizeConnectionString,
  toEsdbExpectedRevision,
  toEventData,
  toStoredEvent,
} from "../../src/event-store/esdb/mapping.js";
import {
  EventStoreUnavailableError,
  InvalidPositionError,
  WrongExpectedRevisionError,
} from "../../src/event-store/event-store.js";

const MAX_U64 = (1n << 64n) - 1n;

/** What the client hands back for an event written with `toEventData`, as the server stores it. */
function recorded(overrides: Partial<RecordedEvent> = {}): RecordedEvent {
  const written = toEventData({
    id: randomUUID(),
    type: "StepStarted",
    data: { step: "scan", attempt: 2 },
    metadata: { by: "worker-1" },
    occurredAt: new Date("2026-01-02T03:04:05.678Z"),
  });
  return {
    streamId: "run-abc",
    id: written.id,
    isJson: true,
    revision: 7n,
    type: written.type,
    created: new Date("2026-01-02T03:04:06.000Z"),
    data: written.data,
    metadata: written.metadata,
    position: { commit: 4096n, prepare: 4096n },
    ...overrides,
  } as RecordedEvent;
}

describe("expected revisions", () => {
  test("map to the client's: numbers as exact bigint revisions, the rest by name", () => {
    assert.equal(toEsdbExpectedRevision(0), 0n);
    assert.equal(toEsdbExpectedRevision(41), 41n);
    assert.equal(toEsdbExpectedRevision("any"), ANY);
    assert.equal(toEsdbExpectedRevision("no_stream"), NO_STREAM);
    assert.equal(toEsdbExpectedRevision("stream_exists"), STREAM_EXISTS);
  });

  test("reject revisions that are not non-negative integers", () => {
    assert.throws(() => toEsdbExpectedRevision(-1), RangeError);
    assert.throws(() => toEsdbExpectedRevision(1.5), RangeError);
    assert.throws(() => toEsdbExpectedRevision(Number.MAX_SAFE_INTEGER + 2), RangeError);
  });

  test("the server's current revision maps back, no stream as null", () => {
    assert.equal(fromEsdbCurrentRevision(NO_STREAM), null);
    assert.equal(fromEsdbCurrentRevision(-1n), null);
    assert.equal(fromEsdbCurrentRevision(0n), 0);
    assert.equal(fromEsdbCurrentRevision(12n), 12);
  });
});

describe("positions", () => {
  test("encode as two fixed-width hex numbers and decode back", () => {
    const position = { commit: 0x1234abcdn, prepare: 0x1234abc0n };
    const encoded = encodeEsdbPosition(position);
    assert.equal(encoded, "000000001234abcd-000000001234abc0");
    assert.deepEqual(decodeEsdbPosition(encoded), position);
    assert.equal(encodeEsdbPosition({ commit: 0n, prepare: 0n }), "0000000000000000-0000000000000000");
    assert.deepEqual(decodeEsdbPosition(encodeEsdbPosition({ commit: MAX_U64, prepare: 1n })), {
      commit: MAX_U64,
      prepare: 1n,
    });
  });

  test("string order is (commit, prepare) order, as in $all", () => {
    const values = [0n, 1n, 15n, 16n, 255n, 4096n, 1n << 32n, (1n << 62n) + 3n, MAX_U64];
    const positions = values.flatMap((commit) => values.map((prepare) => ({ commit, prepare })));
    const byNumbers = [...positions].sort((a, b) =>
      a.commit !== b.commit
        ? a.commit < b.commit
          ? -1
          : 1
        : a.prepare < b.prepare
          ? -1
          : a.prepare > b.prepare
            ? 1
            : 0,
    );
    const byStrings = positions
      .map(encodeEsdbPosition)
      .sort()
      .map((encoded) => decodeEsdbPosition(encoded));
    assert.deepEqual(byStrings, byNumbers);
    for (const encoded of positions.map(encodeEsdbPosition)) assert.equal(encoded.length, 33);
  });

  test("same width as the PostgreSQL positions", () => {
    assert.match(encodeEsdbPosition({ commit: 5n, prepare: 6n }), /^[0-9a-f]{16}-[0-9a-f]{16}$/);
  });

  test("malformed or out-of-range positions are refused", () => {
    for (const bad of [
      "",
      "abc",
      "0-0",
      "000000001234ABCD-000000001234abc0",
      "000000001234abcd_000000001234abc0",
    ]) {
      assert.throws(() => decodeEsdbPosition(bad), InvalidPositionError, bad);
    }
    assert.throws(() => encodeEsdbPosition({ commit: -1n, prepare: 0n }), InvalidPositionError);
    assert.throws(() => encodeEsdbPosition({ commit: MAX_U64 + 1n, prepare: 0n }), InvalidPositionError);
  });

  test("the no-position marker of old servers is not a real position", () => {
    assert.equal(hasRealPosition(undefined), false);
    assert.equal(hasRealPosition({ commit: MAX_U64, prepare: MAX_U64 }), false);
    assert.equal(hasRealPosition({ commit: 10n, prepare: 10n }), true);
  });
});

describe("event serialization", () => {
  test("a new event becomes JSON event data with occurredAt in the metadata envelope", () => {
    const id = randomUUID();
    const data = toEventData({
      id,
      type: "RunStarted",
      data: { pipeline: "fix" },
      occurredAt: new Date("2026-03-04T05:06:07.089Z"),
    });
    assert.equal(data.id, id);
    assert.equal(data.type, "RunStarted");
    assert.equal(data.contentType, "application/json");
    assert.deepEqual(data.data, { pipeline: "fix" });
    assert.deepEqual(data.metadata, { occurredAt: "2026-03-04T05:06:07.089Z", metadata: {} });
  });

  test("a recorded event becomes a stored event with our metadata and occurredAt", () => {
    const record = recorded();
    const event = toStoredEvent(record);
    assert.deepEqual(event, {
      id: record.id,
      streamName: "run-abc",
      revision: 7,
      position: "0000000000001000-0000000000001000",
      type: "StepStarted",
      data: { step: "scan", attempt: 2 },
      metadata: { by: "worker-1" },
      occurredAt: new Date("2026-01-02T03:04:05.678Z"),
    });
  });

  test("events written by others keep their metadata and the server's write time", () => {
    const created = new Date("2025-05-05T05:05:05.000Z");
    const event = toStoredEvent(
      recorded({ metadata: { correlationId: "x" }, created } as Partial<RecordedEvent>),
    );
    assert.deepEqual(event.metadata, { correlationId: "x" });
    assert.equal(event.occurredAt.toISOString(), created.toISOString());
    const none = toStoredEvent(recorded({ metadata: undefined, created } as Partial<RecordedEvent>));
    assert.deepEqual(none.metadata, {});
    const badDate = toStoredEvent(
      recorded({ metadata: { occurredAt: "not a date", metadata: {} }, created } as Partial<RecordedEvent>),
    );
    assert.equal(badDate.occurredAt.toISOString(), created.toISOString());
  });

  test("an event without a $all position (server before 22.6) is refused with a clear error", () => {
    assert.throws(
      () => toStoredEvent(recorded({ position: undefined } as Partial<RecordedEvent>)),
      (error: unknown) => error instanceof MissingEsdbPositionError && /22\.6/.test(error.message),
    );
  });

  test("system streams, links and binary events are foreign", () => {
    assert.equal(isForeignRecord(recorded()), false);
    assert.equal(
      isForeignRecord(recorded({ streamId: "$stats-127.0.0.1:2113" } as Partial<RecordedEvent>)),
      true,
    );
    assert.equal(isForeignRecord(recorded({ type: "$>" } as Partial<RecordedEvent>)), true);
    assert.equal(
      isForeignRecord(
        recorded({ isJson: false, data: new Uint8Array([1]) } as unknown as Partial<RecordedEvent>),
      ),
      true,
    );
  });
});

describe("errors", () => {
  test("a wrong expected version becomes ours, with the actual revision or null", () => {
    const missing = new WrongExpectedVersionError(undefined, {
      streamName: "run-a",
      expected: 0n,
      current: NO_STREAM,
    });
    const mapped = toWrongExpectedRevision(missing, "run-a", 0);
    assert.ok(mapped instanceof WrongExpectedRevisionError);
    assert.equal(mapped.streamName, "run-a");
    assert.equal(mapped.expected, 0);
    assert.equal(mapped.actual, null);
    const ahead = new WrongExpectedVersionError(undefined, {
      streamName: "run-a",
      expected: NO_STREAM,
      current: 4n,
    });
    assert.equal(toWrongExpectedRevision(ahead, "run-a", "no_stream").actual, 4);
  });

  test("connection failures are transient and become EventStoreUnavailableError", () => {
    const unavailable = new UnavailableError(undefined, "14 UNAVAILABLE: No connection established");
    assert.equal(isTransientEsdbError(unavailable), true);
    const mapped = mapEsdbError(unavailable);
    assert.ok(mapped instanceof EventStoreUnavailableError);
    assert.equal((mapped as Error).cause, unavailable);
    assert.equal(isTransientEsdbError(Object.assign(new Error("stream reset"), { code: 13 })), true);
    assert.equal(isTransientEsdbError(new Error("Failed to discover after 10 attempts.")), true);
  });

  test("refusals and programming errors stay as they are", () => {
    const denied = new AccessDeniedError();
    assert.equal(isTransientEsdbError(denied), false);
    assert.equal(mapEsdbError(denied), denied);
    const wrong = new WrongExpectedVersionError(undefined, { streamName: "s", expected: ANY, current: 1n });
    assert.equal(isTransientEsdbError(wrong), false);
    const bug = new TypeError("x is not a function");
    assert.equal(mapEsdbError(bug), bug);
  });
});

describe("connection strings", () => {
  test("kurrentdb:// and kdb:// are read as esdb://", () => {
    assert.equal(normalizeConnectionString("kurrentdb://db:2113?tls=false"), "esdb://db:2113?tls=false");
    assert.equal(normalizeConnectionString("kdb+discover://db:2113"), "esdb+discover://db:2113");
    assert.equal(normalizeConnectionString("esdb://a:1,b:2?tls=false"), "esdb://a:1,b:2?tls=false");
  });
});

describe("filtered $all read request", () => {
  test("carries the prefix filter, the count and the start position", () => {
    const request = buildFilteredReadRequest({
      fromPosition: { commit: 100n, prepare: 90n },
      maxCount: 51,
      filter: { prefixes: ["run-"] },
    }) as { toObject(): Record<string, unknown> };
    const options = request.toObject().options as {
      all: { position: { commitPosition: string; preparePosition: string } };
      count: string;
      filter: { streamIdentifier: { prefixList: string[] }; count?: unknown };
      readDirection: number;
    };
    assert.deepEqual(options.all.position, { commitPosition: "100", preparePosition: "90" });
    assert.equal(options.count, "51");
    assert.deepEqual(options.filter.streamIdentifier.prefixList, ["run-"]);
    assert.ok(options.filter.count, "no search window: the server reads until it has the count");
    assert.equal(options.readDirection, 0);
  });

  test("backwards from the end of $all (the log's head), with its filter", () => {
    const request = buildFilteredReadRequest({
      fromPosition: null,
      direction: "backwards",
      maxCount: 1,
      filter: { regex: "^[^$]" },
    }) as { toObject(): Record<string, unknown> };
    const options = request.toObject().options as {
      all: { end?: unknown; start?: unknown };
      count: string;
      filter: { streamIdentifier: { regex: string } };
      readDirection: number;
    };
    assert.ok(options.all.end, "starts at the end of $all");
    assert.equal(options.all.start, undefined);
    assert.equal(options.count, "1");
    assert.equal(options.filter.streamIdentifier.regex, "^[^$]");
    assert.equal(options.readDirection, 1);
  });

  test("the client still has the plumbing the filtered read relies on", async () => {
    const client = EventStoreDBClient.connectionString("esdb://127.0.0.1:2113?tls=false");
    try {
      assert.equal(supportsFilteredRead(client), true);
    } finally {
      await client.dispose();
    }
  });
});

describe("against an unreachable server (real client, no server)", () => {
  const closedPort = async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  };

  test("reads, appends and global reads fail with EventStoreUnavailableError", async () => {
    const store = EsdbEventStore.connect(`esdb://127.0.0.1:${await closedPort()}?tls=false`);
    try {
      const event = { id: randomUUID(), type: "T", data: {}, occurredAt: new Date() };
      await assert.rejects(store.readStream("run-x"), EventStoreUnavailableError);
      await assert.rejects(store.streamRevision("run-x"), EventStoreUnavailableError);
      await assert.rejects(store.appendToStream("run-x", [event]), EventStoreUnavailableError);
      await assert.rejects(store.readAll({ streamPrefix: "run-" }), EventStoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
