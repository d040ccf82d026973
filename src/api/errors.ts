import { GraphQLError, type GraphQLErrorExtensions } from "graphql";
import type { MaskError } from "graphql-yoga";
import type { Logger } from "../config/logger.js";
import { isDatabaseUnavailable } from "../db/unavailable.js";
import type { ErrorCode } from "../shared/error-codes.js";
import { DomainError } from "../shared/errors.js";
import { newId } from "../shared/ids.js";
import { currentRequestScope } from "./request-scope.js";

export const UNEXPECTED_ERROR_MESSAGE = "Unexpected error.";

/**
 * An expected failure raised as a plain GraphQL error: it passes the masking below unchanged, with
 * one of the public codes. `http` in `extensions` sets the status where the error ends the request
 * before execution (Yoga strips it from the response body).
 */
export const publicError = (code: ErrorCode, message: string, extensions: GraphQLErrorExtensions = {}) =>
  new GraphQLError(message, { extensions: { code, ...extensions } });

function domainErrorOf(error: unknown): DomainError | null {
  if (error instanceof DomainError) return error;
  if (error instanceof GraphQLError && error.originalError) return domainErrorOf(error.originalError);
  return null;
}

/** An error raised as a GraphQL error on purpose (syntax, validation, our own codes): safe to show. */
const isPlainGraphQLError = (error: unknown): error is GraphQLError =>
  error instanceof GraphQLError &&
  (!error.originalError ||
    (error.originalError instanceof GraphQLError && isPlainGraphQLError(error.originalError)));

/**
 * Expected failures (DomainError subclasses) keep their message and get the contract's
 * `extensions.code`. Anything else is a bug or an outage: its message could leak internals, so the
 * client gets a generic one plus the correlation id that finds the full error in the logs.
 */
/** The database cannot be reached: the client should retry, the request changed nothing it will not redo. */
export const unavailable = (retryAfterMs: number, correlationId: string): GraphQLError =>
  publicError("UNAVAILABLE", "The service cannot reach its database right now; retry shortly.", {
    retryAfterMs,
    correlationId,
    http: { status: 503, headers: { "retry-after": String(Math.ceil(retryAfterMs / 1_000)) } },
  });

export function createMaskError(logger: Logger, retryAfterMs = 2_000): MaskError {
  return (error, message) => {
    const domain = domainErrorOf(error);
    const located = error instanceof GraphQLError ? error : null;
    const location = {
      nodes: located?.nodes,
      source: located?.source,
      positions: located?.positions,
      path: located?.path,
    };
    if (domain) {
      return new GraphQLError(domain.message, { ...location, extensions: { code: domain.code } });
    }
    if (isPlainGraphQLError(error)) return error;
    const scope = currentRequestScope();
    const correlationId = scope?.requestId ?? newId();
    if (scope) scope.unexpectedErrors++;
    const cause = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    if (isDatabaseUnavailable(cause)) {
      logger.warn({ err: cause, correlationId }, "database unavailable during a GraphQL request");
      const answer = unavailable(retryAfterMs, correlationId);
      return new GraphQLError(answer.message, { ...location, extensions: answer.extensions });
    }
    logger.error(
      { err: cause, correlationId, path: located?.path?.join(".") },
      "unexpected error in a GraphQL request",
    );
    return new GraphQLError(message, {
      ...location,
      extensions: { code: "INTERNAL_SERVER_ERROR" satisfies ErrorCode, correlationId },
    });
  };
}
