import type pg from "pg";
import type { PrismaClient } from "../db/prisma.js";

/** The slice of a Prisma client (or of one of its interactive transactions) projections write with. */
export type SqlClient = Pick<PrismaClient, "$queryRawUnsafe" | "$executeRawUnsafe">;

/** Double-quotes an identifier (schema or table name) for SQL text built at run time. */
export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Runs `work` in one interactive transaction; projections keep them short (see the engine). */
export function inTransaction<T>(
  prisma: PrismaClient,
  work: (tx: SqlClient) => Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  return prisma.$transaction((tx) => work(tx), { timeout: timeoutMs, maxWait: timeoutMs });
}

/** Plain `pg` behind the same interface: about half the cost of Prisma's raw queries per statement. */
export function pgSql(client: pg.ClientBase): SqlClient {
  const query = async (text: string, ...values: unknown[]) => (await client.query(text, values)).rows;
  return {
    $queryRawUnsafe: query as SqlClient["$queryRawUnsafe"],
    $executeRawUnsafe: (async (text: string, ...values: unknown[]) =>
      (await client.query(text, values)).rowCount ?? 0) as SqlClient["$executeRawUnsafe"],
  };
}

export interface TransactionOptions {
  /**
   * Commit without waiting for the WAL flush (synchronous_commit off, this transaction only). Safe
   * for what can be derived again from durable data: a crash loses at most the last few commits
   * (rows and checkpoint together, never one without the other), which are then applied again.
   */
  asyncCommit?: boolean;
}

// One round trip for both: a simple-protocol query may hold several statements.
const BEGIN_ASYNC_COMMIT = "BEGIN; SET LOCAL synchronous_commit = off";

/** Like `inTransaction`, on a connection of a `pg` pool. */
export async function inPgTransaction<T>(
  pool: pg.Pool,
  work: (tx: SqlClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(options.asyncCommit ? BEGIN_ASYNC_COMMIT : "BEGIN");
    const result = await work(pgSql(client));
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export interface SqlDeps {
  prisma: PrismaClient;
  /** The application's `pg` pool on the same database: when given, projections write through it. */
  pool?: pg.Pool;
}

/** One transaction through the pool when there is one, else through Prisma. */
export function transaction<T>(
  deps: SqlDeps,
  work: (tx: SqlClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  if (deps.pool) return inPgTransaction(deps.pool, work, options);
  return inTransaction(deps.prisma, async (tx) => {
    if (options.asyncCommit) await tx.$executeRawUnsafe("SET LOCAL synchronous_commit = off");
    return work(tx);
  });
}
