import {
  ANY,
  type AppendExpectedRevision,
  type CurrentRevision,
  type EventData,
  jsonEvent,
  NO_STREAM,
  type Position,
  type RecordedEvent,
  STREAM_EXISTS,
} from "@eventstore/db-client";
import type { JsonObject } from "../../shared/json.js";
import {
  type ExpectedRevision,
  InvalidPositionError,
  type NewEvent,
  type StoredEvent,
} from "../event-store.js";

/**
 * Pure translations between our event store's terms and EventStoreDB/KurrentDB's, kept apart from
 * the I/O so that every one of them is unit-tested without a server.
 */

export function toEsdbExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case "any":
      return ANY;
    case "no_stream":
      return NO_STREAM;
    case "stream_exists":
      return STREAM_EXISTS;
    default:
      if (!Number.isSafeInteger(expected) || expected < 0) {
        throw new RangeError(`expected revision must be a non-negative integer, got ${expected}`);
      }
      return BigInt(expected);
  }
}

/** The server's "current revision" as ours: null when the stream has no events. */
export function fromEsdbCurrentRevision(current: CurrentRevision | bigint): number | null {
  if (current === NO_STREAM) return null;
  const revision = Number(current);
  return revision < 0 ? null : revision;
}

const HEX_WIDTH = 16;
const MAX_U64 = (1n << 64n) - 1n;

/**
 * A $all position {commit, prepare} as two fixed-width hex numbers, the same shape as the PostgreSQL
 * positions: comparing the strings compares (commit, prepare), which is the order of $all.
 */
export function encodeEsdbPosition(position: Position): string {
  const hex = (value: bigint) => {
    if (value < 0n || value > MAX_U64) throw new InvalidPositionError(`position part out of range: ${value}`);
    return value.toString(16).padStart(HEX_WIDTH, "0");
  };
  return `${hex(position.commit)}-${hex(position.prepare)}`;
}

export function decodeEsdbPosition(position: string): Position {
  const match = /^([0-9a-f]{16})-([0-9a-f]{16})$/.exec(position);
  if (!match?.[1] || !match[2]) {
    throw new InvalidPositionError(`not an EventStoreDB position: ${JSON.stringify(position)}`);
  }
  return { commit: BigInt(`0x${match[1]}`), prepare: BigInt(`0x${match[2]}`) };
}

/** Servers before 22.6 send no position on stream reads; they send -1 (all bits set) instead. */
export function hasRealPosition(position: Position | undefined): position is Position {
  return (
    position !== undefined && position.commit !== MAX_U64 && position.commit >= 0n && position.prepare >= 0n
  );
}

/**
 * What we store in the event's metadata: our own metadata untouched under `metadata`, and the time
 * the event happened (the server only records when it was written).
 */
export interface MetadataEnvelope {
  occurredAt: string;
  metadata: JsonObject;
}

export function toEventData(event: NewEvent): EventData {
  const envelope: MetadataEnvelope = {
    occurredAt: event.occurredAt.toISOString(),
    metadata: event.metadata ?? {},
  };
  return jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: envelope });
}

const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);

function readEnvelope(metadata: unknown, created: Date): { occurredAt: Date; metadata: JsonObject } {
  if (isJsonObject(metadata) && typeof metadata.occurredAt === "string" && isJsonObject(metadata.metadata)) {
    const occurredAt = new Date(metadata.occurredAt);
    if (!Number.isNaN(occurredAt.getTime())) return { occurredAt, metadata: metadata.metadata };
  }
  // Written by someone else: keep what is there, and the server's write time.
  return { occurredAt: created, metadata: isJsonObject(metadata) ? metadata : {} };
}

/** True for events this store never hands out: system streams, links, non-JSON payloads. */
export function isForeignRecord(record: RecordedEvent): boolean {
  return (
    record.streamId.startsWith("$") ||
    record.type.startsWith("$") ||
    !record.isJson ||
    !isJsonObject(record.data)
  );
}

export class MissingEsdbPositionError extends Error {
  override name = "MissingEsdbPositionError";
}

export function toStoredEvent(record: RecordedEvent): StoredEvent {
  if (!hasRealPosition(record.position)) {
    throw new MissingEsdbPositionError(
      `event ${record.id} of ${record.streamId} came without a $all position: EventStoreDB/KurrentDB 22.6 or later is required`,
    );
  }
  const { occurredAt, metadata } = readEnvelope(record.metadata, record.created);
  return {
    id: record.id,
    streamName: record.streamId,
    revision: Number(record.revision),
    position: encodeEsdbPosition(record.position),
    type: record.type,
    data: isJsonObject(record.data) ? record.data : {},
    metadata,
    occurredAt,
  };
}

/** The client only speaks esdb://; KurrentDB's newer schemes name the same thing. */
export function normalizeConnectionString(url: string): string {
  return url.replace(/^(?:kurrentdb|kdb)(\+discover)?:\/\//, (_match, discover: string | undefined) =>
    discover ? "esdb+discover://" : "esdb://",
  );
}
