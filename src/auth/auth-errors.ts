import { GraphQLError } from "graphql";

/**
 * The errors of authentication and limits. Plain GraphQLErrors pass the API's error masking with
 * their `extensions.code` (see docs/api-errors.md); `http.status` sets the HTTP status where the
 * error ends the request before execution (Yoga strips it from the response body).
 */
export const unauthenticated = (message: string): GraphQLError =>
  new GraphQLError(message, {
    extensions: { code: "UNAUTHENTICATED", http: { status: 401, headers: { "www-authenticate": "Bearer" } } },
  });

export const forbidden = (message: string): GraphQLError =>
  new GraphQLError(message, { extensions: { code: "FORBIDDEN", http: { status: 403 } } });

export const rateLimited = (retryAfterMs: number): GraphQLError =>
  new GraphQLError(`Too many commands for this token; retry in ${retryAfterMs} ms.`, {
    extensions: {
      code: "RATE_LIMITED",
      retryAfterMs,
      http: { status: 429, headers: { "retry-after": String(Math.ceil(retryAfterMs / 1_000)) } },
    },
  });

export const tooManySubscriptions = (limit: number): GraphQLError =>
  new GraphQLError(`This token already has ${limit} open subscriptions, the most allowed.`, {
    extensions: { code: "TOO_MANY_SUBSCRIPTIONS", limit },
  });

/** Over a size or shape limit: the contract's code for out-of-range input. */
export const overLimit = (message: string): GraphQLError =>
  new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
