import { DomainError } from "../shared/errors.js";

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
