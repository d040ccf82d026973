import type { AppContext } from "../app/app-context.js";
import { createApiToken } from "./token-store.js";

export const DEFAULT_WORKSPACE = "default";

/** Serializes API processes starting at once, so that only one creates the first token. */
const BOOTSTRAP_LOCK_KEY = 72_616_002;

export class NoApiTokensError extends Error {
  override name = "NoApiTokensError";
}

/**
 * The embedded default stays easy: when no valid token exists, outside production, an admin token
 * for the "default" workspace is created and its secret printed once (log and stdout), and returned
 * so GraphiQL can offer it. In production a server without tokens refuses to start.
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
  app.logger.warn(
    { tokenId: token.id, workspaceId: token.workspaceId, role: token.role, secret },
    "no API token existed: created an admin token for the default workspace (shown only this once)",
  );
  console.log(`\nAPI token (admin, workspace "${DEFAULT_WORKSPACE}"), shown only once:\n  ${secret}\n`);
  return secret;
}
