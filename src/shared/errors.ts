/**
 * Expected failures of commands (runs, tokens, projections). Each maps to one `extensions.code` of the public contract at the
 * API edge; anything else is a bug and gets masked there.
 */
import type { ErrorCode } from "../shared/error-codes.js";

export type DomainErrorCode = Extract<
  ErrorCode,
  "BAD_USER_INPUT" | "NOT_FOUND" | "CONFLICT" | "INVALID_STATE"
>;

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
}

export class InvalidInputError extends DomainError {
  override name = "InvalidInputError";
  readonly code = "BAD_USER_INPUT";
}

export class NotFoundError extends DomainError {
  override name = "NotFoundError";
  readonly code = "NOT_FOUND";
}

export class InvalidStateError extends DomainError {
  override name = "InvalidStateError";
  readonly code = "INVALID_STATE";
}

/** The request contradicts an earlier one (e.g. a reused idempotency key with another request). */
export class ConflictError extends DomainError {
  override name = "ConflictError";
  readonly code = "CONFLICT";
}
