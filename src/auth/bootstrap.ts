import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AppContext } from "../app/app-context.js";
import { createApiToken } from "./token-store.js";

export const DEFAULT_WORKSPACE = "default";

/** Serializes API processes starting at once, so that only one creates the first token. */
const BOOTSTRAP_LOCK_KEY = 72_616_002;

/** Where the first start leaves the admin token it created (mode 0600). */
export const adminTokenFile = (dataDir: string): string => path.resolve(dataDir, "admin-token");

export class NoApiTokensError extends Error {
  override name = "NoApiTokensError";
}

/**
 * The embedded default stays easy: when no valid token exists, outside production, an admin token
 * for the "default" workspace is created, its secret printed once on the terminal (stdout, never the
 * log) and written to DATA_DIR/admin-token, readable by its owner only. In production a server
 * without tokens refuses to start.
 */
export async function ensureApiTokens(app: AppContext): Promise<string | null> {
  const created = await app.prisma.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY}::bigint)`;
    if ((await tx.apiToken.count({ where: { revokedAt: null } })) > 0) return null;
    if (app.config.NODE_ENV === "production") {
      throw new NoApiTokensError(
        "NODE_ENV=production and no API token exists: create one first with " +
          "`npm run admin -- tokens create --workspace <workspace> --role admin --name <name>`, " +
          "or with a secret of your choice: `npm run admin -- tokens ensure --secret-file <file>` " +
          "(docker compose: set ADMIN_TOKEN).",
      );
    }
    return createApiToken(tx, {
      workspaceId: DEFAULT_WORKSPACE,
      role: "admin",
      name: "initial admin (created at first start)",
    });
  });
  if (!created) return null;
  const { token, secret } = created;
  const file = adminTokenFile(app.config.DATA_DIR);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  app.logger.warn(
    { tokenId: token.id, workspaceId: token.workspaceId, role: token.role, file },
    "no API token existed: created an admin token for the default workspace",
  );
  console.log(
    `\nAPI token (admin, workspace "${DEFAULT_WORKSPACE}"), shown only once and saved in ${file}:\n  ${secret}\n`,
  );
  return secret;
}
