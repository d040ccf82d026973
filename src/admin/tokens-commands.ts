import { readFile } from "node:fs/promises";
import {
  createApiToken,
  ensureApiToken,
  listApiTokens,
  type NewApiToken,
  revokeApiToken,
} from "../auth/token-store.js";
import type { Config } from "../config/config.js";
import type { Logger } from "../config/logger.js";
import { openDatabase } from "../db/database.js";
import { createPrismaClient, type PrismaClient } from "../db/prisma.js";

/** Prisma on the application's database (migrated like the application does), closed after `work`. */
async function withPrisma<T>(config: Config, logger: Logger, work: (prisma: PrismaClient) => Promise<T>) {
  const db = await openDatabase(config, logger, 2);
  const prisma = createPrismaClient(db.url, 2);
  try {
    return await work(prisma);
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

export async function createTokenCommand(config: Config, logger: Logger, input: NewApiToken): Promise<void> {
  const { token, secret } = await withPrisma(config, logger, (prisma) => createApiToken(prisma, input));
  console.log(`created token ${token.id} (${token.role}, workspace "${token.workspaceId}", "${token.name}")`);
  console.log("secret (shown only now; send it as `Authorization: Bearer <secret>`):");
  console.log(secret);
}

/**
 * The first-token step of a deployment (docker-compose.yml's `init` service): a token with the secret
 * read from `secretFile` exists afterwards. Idempotent, so it can run before every start. The secret
 * comes from a file (a Docker secret), never from the command line, where `ps` would show it.
 */
export async function ensureTokenCommand(
  config: Config,
  logger: Logger,
  input: NewApiToken,
  secretFile: string,
): Promise<void> {
  const secret = (await readFile(secretFile, "utf8").catch(() => "")).trim();
  if (secret === "") {
    console.error(
      `no token secret in ${secretFile}: set ADMIN_TOKEN (for docker compose) to the secret the first admin ` +
        "token should have, for example `export ADMIN_TOKEN=rst_$(openssl rand -hex 32)`",
    );
    process.exit(2);
  }
  const { token, created } = await withPrisma(config, logger, (prisma) =>
    ensureApiToken(prisma, input, secret),
  );
  console.log(
    `${created ? "created" : "kept existing"} token ${token.id} (${token.role}, workspace "${token.workspaceId}", "${token.name}")`,
  );
}

export async function listTokensCommand(config: Config, logger: Logger, options: { json?: boolean }) {
  const tokens = await withPrisma(config, logger, listApiTokens);
  if (options.json) {
    console.log(JSON.stringify(tokens, null, 2));
    return;
  }
  console.table(
    tokens.map((token) => ({
      id: token.id,
      name: token.name,
      workspace: token.workspaceId,
      role: token.role,
      created: token.createdAt.toISOString(),
      revoked: token.revokedAt?.toISOString() ?? "-",
    })),
  );
}

/** Exit code 2 when there is no such token. */
export async function revokeTokenCommand(config: Config, logger: Logger, id: string): Promise<void> {
  const token = await withPrisma(config, logger, (prisma) => revokeApiToken(prisma, id));
  if (!token) {
    console.error(`no token ${id}`);
    process.exit(2);
  }
  console.log(
    `revoked token ${token.id} at ${token.revokedAt?.toISOString()}; open streams end within seconds`,
  );
}
