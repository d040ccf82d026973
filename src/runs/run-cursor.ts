import { InvalidInputError } from "../shared/errors.js";

/**
 * Cursor of a run in the newest-first order: (createdAt, id), the order's full sort key, so pages
 * never skip or repeat a run even when several share a creation time. Opaque to clients (base64url).
 */
export interface RunCursor {
  createdAt: Date;
  id: string;
}

export function encodeRunCursor(run: RunCursor): string {
  return Buffer.from(JSON.stringify([run.createdAt.toISOString(), run.id]), "utf8").toString("base64url");
}

export function decodeRunCursor(cursor: string): RunCursor {
  const invalid = () => new InvalidInputError("`after` is not a cursor returned by `runs`");
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) throw invalid();
  const [createdAt, id] = decoded as unknown[];
  if (typeof createdAt !== "string" || typeof id !== "string") throw invalid();
  const date = new Date(createdAt);
  if (Number.isNaN(date.getTime()) || date.toISOString() !== createdAt) throw invalid();
  return { createdAt: date, id };
}
