import { createHash, randomBytes } from "node:crypto";
import type pg from "pg";
import type { PrismaClient } from "../db/prisma.js";
import { InvalidInputError } from "../shared/errors.js";
import { newId } from "../shared/ids.js";
import type { Caller } from "./caller.js";
import { isRole, ROLES, type Role, roleAllows } from "./roles.js";

/** Recognisable in logs and secret scanners; the rest is 32 random bytes. */
export const TOKEN_PREFIX = "rst_";

const WORKSPACE_PATTERN = /^[\w.-]{1,100}$/;

export interface ApiTokenInfo {
  id: string;
  name: string;
  workspaceId: string;
  role: Role;
  createdAt: Date;
  revokedAt: Date | null;
}

/** Only this digest is stored: a leaked table does not give working tokens. */
export const hashSecret = (secret: string): string =>
  createHash("sha256").update(secret, "utf8").digest("hex");

export const newTokenSecret = (): string => `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;

const infoOf = (row: ApiTokenInfo): ApiTokenInfo => ({
  id: row.id,
  name: row.name,
  workspaceId: row.workspaceId,
  role: row.role,
  createdAt: row.createdAt,
  revokedAt: row.revokedAt,
});

export interface NewApiToken {
  workspaceId: string;
  role: string;
  name: string;
}

/** A secret the operator chose (the first admin token of a deployment): long, and safe in a header. */
const CHOSEN_SECRET_PATTERN = /^[\x21-\x7e]{32,512}$/;

/**
 * Creates a token; the secret is returned here and nowhere else, ever. It is a new random one unless
 * the operator brings their own (`ensureApiToken`).
 */
export async function createApiToken(
  prisma: Pick<PrismaClient, "apiToken">,
  input: NewApiToken,
  chosenSecret?: string,
): Promise<{ token: ApiTokenInfo; secret: string }> {
  if (!WORKSPACE_PATTERN.test(input.workspaceId)) {
    throw new InvalidInputError("workspace must be 1 to 100 letters, digits, '_', '.' or '-'");
  }
  if (!isRole(input.role)) throw new InvalidInputError(`role must be one of ${ROLES.join(", ")}`);
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) throw new InvalidInputError("name must be 1 to 200 characters");
  if (chosenSecret !== undefined && !CHOSEN_SECRET_PATTERN.test(chosenSecret)) {
    throw new InvalidInputError(
      "a chosen token secret must be 32 to 512 printable ASCII characters, no spaces",
    );
  }
  const secret = chosenSecret ?? newTokenSecret();
  const row = await prisma.apiToken.create({
    data: {
      id: newId(),
      name,
      workspaceId: input.workspaceId,
      role: input.role,
      secretHash: hashSecret(secret),
    },
  });
  return { token: infoOf(row), secret };
}

/**
 * Makes sure a token with this operator-chosen secret exists (the first-token step of a deployment,
 * run before every start): creates it the first time, does nothing when it exists, and refuses when
 * it was revoked (a revoked secret must not come back to life by a restart).
 */
export async function ensureApiToken(
  prisma: Pick<PrismaClient, "apiToken">,
  input: NewApiToken,
  secret: string,
): Promise<{ token: ApiTokenInfo; created: boolean }> {
  const existing = async () => {
    const row = await prisma.apiToken.findUnique({ where: { secretHash: hashSecret(secret) } });
    if (row?.revokedAt) throw new InvalidInputError(`the token with this secret (${row.id}) was revoked`);
    return row ? { token: infoOf(row), created: false } : null;
  };
  const found = await existing();
  if (found) return found;
  try {
    return { token: (await createApiToken(prisma, input, secret)).token, created: true };
  } catch (error) {
    // Two first-token steps at once: the unique secret hash lets one create it; the other finds it.
    const raced = await existing();
    if (raced) return raced;
    throw error;
  }
}

export async function listApiTokens(prisma: PrismaClient): Promise<ApiTokenInfo[]> {
  const rows = await prisma.apiToken.findMany({ orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return rows.map(infoOf);
}

/** Revokes a token (idempotent); null when there is no such token. */
export async function revokeApiToken(prisma: PrismaClient, id: string): Promise<ApiTokenInfo | null> {
  const existing = await prisma.apiToken.findUnique({ where: { id } });
  if (!existing) return null;
  if (existing.revokedAt) return infoOf(existing);
  return infoOf(await prisma.apiToken.update({ where: { id }, data: { revokedAt: new Date() } }));
}

interface TokenRow {
  id: string;
  name: string;
  workspace_id: string;
  role: Role;
  revoked_at: Date | null;
}

/**
 * The caller a secret stands for; null when it is unknown or revoked. Every request asks, so this
 * goes through `pg` directly (Prisma's raw path costs about twice as much, see STACK-NOTES).
 */
export async function callerOfSecret(pool: pg.Pool, secret: string): Promise<Caller | null> {
  if (!secret.startsWith(TOKEN_PREFIX) || secret.length > 200) return null;
  const { rows } = await pool.query<TokenRow>(
    "SELECT id, name, workspace_id, role, revoked_at FROM api_tokens WHERE secret_hash = $1",
    [hashSecret(secret)],
  );
  const row = rows[0];
  if (!row || row.revoked_at) return null;
  return {
    tokenId: row.id,
    tokenName: row.name,
    workspaceId: row.workspace_id,
    role: row.role,
    admin: roleAllows(row.role, "admin"),
  };
}

/** Which of these tokens are no longer valid (revoked or deleted). */
export async function invalidTokenIds(pool: pg.Pool, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await pool.query<{ id: string }>(
    "SELECT id FROM api_tokens WHERE id = ANY($1::text[]) AND revoked_at IS NULL",
    [ids],
  );
  const validIds = new Set(rows.map((row) => row.id));
  return ids.filter((id) => !validIds.has(id));
}
