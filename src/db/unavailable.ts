/**
 * Whether an error means the database cannot be reached right now (down, restarting, connections cut
 * or exhausted), as opposed to a bug or a bad query. Such a request is answered UNAVAILABLE with a
 * retry hint (see api/errors.ts), not INTERNAL_SERVER_ERROR. Recognises `pg`'s socket and connection
 * errors, PostgreSQL's connection SQLSTATEs, and Prisma's (driver adapter and engine) equivalents,
 * wherever they sit in the error's cause chain.
 */
const NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"]);
/** admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections; class 08 is connection_exception. */
const SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);
/** Can't reach, timed out, server closed the connection, pool timeout. */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
const ADAPTER_KINDS = new Set([
  "DatabaseNotReachable",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
]);
const MESSAGES =
  /connection terminated|timeout exceeded when trying to connect|connection error|server closed the connection|cannot connect now|the database system is (starting up|shutting down)/i;

const isSqlStateUnavailable = (code: string) => SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code);

function isUnavailableNode(error: Record<string, unknown>): boolean {
  const code = typeof error.code === "string" ? error.code : null;
  if (code && (NODE_CODES.has(code) || PRISMA_CODES.has(code) || isSqlStateUnavailable(code))) return true;
  if (typeof error.originalCode === "string" && isSqlStateUnavailable(error.originalCode)) return true;
  if (typeof error.kind === "string" && ADAPTER_KINDS.has(error.kind)) return true;
  if (typeof error.name === "string" && /Unavailable/.test(error.name)) return true;
  return typeof error.message === "string" && MESSAGES.test(error.message);
}

export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const node = current as Record<string, unknown>;
    if (isUnavailableNode(node)) return true;
    current = node.cause ?? node.originalError;
  }
  return false;
}

/** How long a request waits for the database before it counts as unavailable (pools' connect timeout too). */
export const DATABASE_DEADLINE_MS = 5_000;

export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

/**
 * The database's answer, or DatabaseUnavailableError after `ms`: a stalled server (processes stopped,
 * connections open but silent) fails the request fast instead of hanging it.
 */
export async function withDatabaseDeadline<T>(work: Promise<T>, ms = DATABASE_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DatabaseUnavailableError(`no answer from the database within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
