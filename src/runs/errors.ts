/**
 * Expected failures of run commands. Each maps to one `extensions.code` of the public contract at the
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

/** `expectedRevision` did not match the stream's current revision. */
export class RevisionConflictError extends DomainError {
  override name = "RevisionConflictError";
  readonly code = "CONFLICT";
  constructor(
    readonly streamName: string,
    readonly expected: string,
    readonly actual: number | null,
  ) {
    super(`expected revision ${expected} of ${streamName} but it is at ${actual ?? "no stream"}`);
  }
}
