import { randomBytes } from "node:crypto";
import { link, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import type { Logger } from "../../config/logger.js";

/**
 * The embedded server's superuser password: random per data directory, in a file only its owner can
 * read (DATA_DIR/pg-password). Data directories made before it existed used a password written in
 * the source; they are moved to a random one at their next start.
 */
const LEGACY_PASSWORD = "runstream-embedded";

export const passwordFile = (dataDir: string): string => path.join(dataDir, "pg-password");

/** The data directory's password; created (owner-only) when missing. */
export async function ensurePassword(dataDir: string): Promise<string> {
  const file = passwordFile(dataDir);
  const existing = await readFile(file, "utf8").catch(() => null);
  if (existing?.trim()) return existing.trim();
  const password = randomBytes(24).toString("base64url");
  // Written whole or not at all, so a crash cannot leave half a password; and published with link(),
  // which fails when the file exists, so of two processes starting at once only one password wins
  // (a rename would let the later one replace the password the first one is initialising with).
  const temporary = `${file}.${process.pid}`;
  await writeFile(temporary, `${password}\n`, { mode: 0o600 });
  try {
    await link(temporary, file);
    return password;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return (await readFile(file, "utf8")).trim();
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

export const urlFor = (port: number, password: string, database: string): string =>
  `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;

const isBadPassword = (error: unknown): boolean => (error as { code?: string }).code === "28P01";

/**
 * Connects once with the data directory's password; a server still on the legacy password is moved
 * to it (the file is written before the server changes, so a crash between the two is retried here).
 */
export async function migrateLegacyPassword(port: number, password: string, logger: Logger): Promise<void> {
  const probe = new pg.Client({ connectionString: urlFor(port, password, "postgres") });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if (!isBadPassword(error)) throw error;
  } finally {
    await probe.end().catch(() => undefined);
  }
  const legacy = new pg.Client({ connectionString: urlFor(port, LEGACY_PASSWORD, "postgres") });
  await legacy.connect();
  try {
    await legacy.query(`ALTER ROLE postgres PASSWORD ${legacy.escapeLiteral(password)}`);
    logger.warn("the embedded PostgreSQL used the old fixed password: it now uses DATA_DIR/pg-password");
  } finally {
    await legacy.end();
  }
}
