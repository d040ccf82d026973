import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  NotLeaderError,
  StreamDeletedError,
  TimeoutError,
  UnavailableError,
  UnsupportedError,
  WrongExpectedVersionError,
} from "@eventstore/db-client";
import {
  EventStoreUnavailableError,
  type ExpectedRevision,
  WrongExpectedRevisionError,
} from "../event-store.js";
import { fromEsdbCurrentRevision } from "./mapping.js";

/** gRPC status codes that mean "the connection, not the request, failed". */
const TRANSPORT_CODES = new Set([
  1, // CANCELLED (by the server: shutdown, leader change)
  4, // DEADLINE_EXCEEDED
  13, // INTERNAL (RST_STREAM, keep-alive failures surface here)
  14, // UNAVAILABLE
]);

/**
 * Connection-level failures a caller may retry later: server down or unreachable, keep-alive lost,
 * leader changed, discovery failed. As opposed to a refused request (access, bad argument).
 */
export function isTransientEsdbError(error: unknown): boolean {
  if (error instanceof EventStoreUnavailableError) return true;
  if (
    error instanceof UnavailableError ||
    error instanceof CancelledError ||
    error instanceof DeadlineExceededError ||
    error instanceof TimeoutError ||
    error instanceof NotLeaderError
  ) {
    return true;
  }
  if (
    error instanceof AccessDeniedError ||
    error instanceof InvalidArgumentError ||
    error instanceof StreamDeletedError ||
    error instanceof UnsupportedError ||
    error instanceof WrongExpectedVersionError
  ) {
    return false;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "number" && TRANSPORT_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /Failed to discover|ECONNREFUSED|ECONNRESET|No connection established|keepalive|GOAWAY|RST_STREAM/i.test(
    message,
  );
}

/** The client's WrongExpectedVersionError as ours; the actual revision is null when no stream. */
export function toWrongExpectedRevision(
  error: WrongExpectedVersionError,
  streamName: string,
  expected: ExpectedRevision,
): WrongExpectedRevisionError {
  return new WrongExpectedRevisionError(streamName, expected, fromEsdbCurrentRevision(error.actualVersion));
}

/** Transient failures become EventStoreUnavailableError; anything else is left as it is. */
export function mapEsdbError(error: unknown): unknown {
  if (error instanceof EventStoreUnavailableError) return error;
  if (isTransientEsdbError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new EventStoreUnavailableError(`EventStoreDB unavailable: ${message}`, { cause: error });
  }
  return error;
}

/** Runs `work`, rethrowing its failure through mapEsdbError. */
export async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapEsdbError(error);
  }
}
