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

/** Like `inTransaction`, on a connection of a `pg` pool. */
export async function inPgTransaction<T>(pool: pg.Pool, work: (tx: SqlClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
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
export function transaction<T>(deps: SqlDeps, work: (tx: SqlClient) => Promise<T>): Promise<T> {
  return deps.pool ? inPgTransaction(deps.pool, work) : inTransaction(deps.prisma, work);
}
