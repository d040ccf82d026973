import type { GraphQLError } from "graphql";
import { publicError } from "../api/errors.js";

/** The errors of authentication and limits (codes: src/shared/error-codes.ts, docs/api-errors.md). */
export const unauthenticated = (message: string): GraphQLError =>
  publicError("UNAUTHENTICATED", message, {
    http: { status: 401, headers: { "www-authenticate": "Bearer" } },
  });

export const forbidden = (message: string): GraphQLError =>
  publicError("FORBIDDEN", message, { http: { status: 403 } });

export const rateLimited = (retryAfterMs: number): GraphQLError =>
  publicError("RATE_LIMITED", `Too many commands for this token; retry in ${retryAfterMs} ms.`, {
    retryAfterMs,
    http: { status: 429, headers: { "retry-after": String(Math.ceil(retryAfterMs / 1_000)) } },
  });

export const tooManySubscriptions = (limit: number): GraphQLError =>
  publicError(
    "TOO_MANY_SUBSCRIPTIONS",
    `This token already has ${limit} open subscriptions, the most allowed.`,
    { limit },
  );

/** Over a size or shape limit: the contract's code for out-of-range input. */
export const overLimit = (message: string): GraphQLError => publicError("BAD_USER_INPUT", message);
