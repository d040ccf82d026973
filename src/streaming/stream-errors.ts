import { GraphQLError } from "graphql";
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
    return new GraphQLError("The event store is unavailable; the stream resumes by itself.", {
      extensions: { code: "UNAVAILABLE", retryAfterMs: item.retryAfterMs },
    });
  }
  switch (item.reason) {
    case "slow-consumer":
      return new GraphQLError(`Slow consumer: ${item.message}.`, {
        extensions: { code: "SLOW_CONSUMER", retryAfterMs: 0 },
      });
    case "gone":
      return new GraphQLError("The run no longer exists.", { extensions: { code: "NOT_FOUND" } });
    default:
      return new GraphQLError("The stream failed; resume from the last cursor.", {
        extensions: { code: "INTERNAL_SERVER_ERROR", retryAfterMs: 1_000 },
      });
  }
}
