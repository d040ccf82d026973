/**
 * Every public error code (`extensions.code` of a GraphQL error) in one place. The server raises only
 * these, docs/api-errors.md lists exactly these (a test checks), and src/client decides with them
 * whether subscribing again can help. Like graphql-sse's `common.ts`, this file is shared by client
 * and server, so it imports nothing.
 */
export const ERROR_CODES = [
  /** Malformed or out-of-range input, size and shape limits included. */
  "BAD_USER_INPUT",
  /** The run or step does not exist, or belongs to another workspace. */
  "NOT_FOUND",
  /** `expectedRevision` did not match the run's revision. */
  "CONFLICT",
  /** The command is not allowed in the run's current state. */
  "INVALID_STATE",
  /** No token, or an unknown or revoked one (HTTP 401). */
  "UNAUTHENTICATED",
  /** The token's role is too low for the operation (HTTP 403). */
  "FORBIDDEN",
  /** The token's command bucket is empty; retry after `retryAfterMs` (HTTP 429). */
  "RATE_LIMITED",
  /** The token has the most open subscriptions allowed. */
  "TOO_MANY_SUBSCRIPTIONS",
  /** The event store or database is unavailable for now; retry after `retryAfterMs`. */
  "UNAVAILABLE",
  /** A stream's client fell too far behind; it is closed and resumes from its last cursor. */
  "SLOW_CONSUMER",
  /** Raised by GraphQL Yoga itself: the document does not parse. */
  "GRAPHQL_PARSE_FAILED",
  /** Raised by GraphQL Yoga itself: the document does not validate against the schema. */
  "GRAPHQL_VALIDATION_FAILED",
  /** A bug or an outage, masked; `correlationId` finds it in the logs. */
  "INTERNAL_SERVER_ERROR",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES);

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === "string" && KNOWN.has(value);

/** Codes after which making the same request again cannot succeed: a resuming client stops there. */
export const TERMINAL_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "NOT_FOUND",
  "BAD_USER_INPUT",
  "FORBIDDEN",
  "UNAUTHENTICATED",
  "GRAPHQL_VALIDATION_FAILED",
]);
