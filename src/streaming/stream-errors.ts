import type { GraphQLError } from "graphql";
import { publicError } from "../api/errors.js";
import type { StreamItem } from "./follow-stream.js";

/**
 * A non-event item of a stream as the GraphQL error its event carries. Plain GraphQLErrors pass the
 * API's error masking unchanged, with their `extensions.code`:
 * - UNAVAILABLE (+ retryAfterMs): the store failed; the stream goes on by itself when it is back;
 * - SLOW_CONSUMER: the client fell too far behind; the stream closes, resume from the last cursor;
 * - NOT_FOUND: the run is gone (deleted or archived); the stream closes;
 * - INTERNAL_SERVER_ERROR: the stream failed unexpectedly; it closes, resuming may work.
 */
export function streamItemError(item: Exclude<StreamItem, { kind: "event" }>): GraphQLError {
  if (item.kind === "unavailable") {
    return publicError("UNAVAILABLE", "The event store is unavailable; the stream resumes by itself.", {
      retryAfterMs: item.retryAfterMs,
    });
  }
  switch (item.reason) {
    case "slow-consumer":
      return publicError("SLOW_CONSUMER", `Slow consumer: ${item.message}.`, { retryAfterMs: 0 });
    case "gone":
      return publicError("NOT_FOUND", "The run no longer exists.");
    default:
      return publicError("INTERNAL_SERVER_ERROR", "The stream failed; resume from the last cursor.", {
        retryAfterMs: 1_000,
      });
  }
}
