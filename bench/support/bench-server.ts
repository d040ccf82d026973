import { type RunningHttpServer, startHttpServer } from "../../src/api/http-server.js";
import { type AppContext, openAppContext } from "../../src/app/app-context.js";
import type { Role } from "../../src/auth/roles.js";
import { createApiToken } from "../../src/auth/token-store.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/config/logger.js";

/**
 * The API of a bench's server process, as production runs it: DATABASE_URL from the environment,
 * `defaults` then BENCH_SERVER_ENV (JSON) as configuration, projections following, an API token of
 * `role` made before the server starts (in production a server without any token refuses to start).
 */
export async function startBenchServer(
  name: string,
  role: Role,
  defaults: Record<string, string> = {},
): Promise<{ ctx: AppContext; server: RunningHttpServer; secret: string }> {
  const overrides = JSON.parse(process.env.BENCH_SERVER_ENV ?? "{}") as Record<string, string>;
  const config = loadConfig({
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    HOST: "127.0.0.1",
    ...defaults,
    ...overrides,
    DATABASE_URL: process.env.DATABASE_URL,
    PORT: "0",
  });
  const ctx = await openAppContext(config, createLogger(config.LOG_LEVEL, name));
  ctx.projections.start();
  const { secret } = await createApiToken(ctx.prisma, { workspaceId: "default", role, name });
  const server = await startHttpServer(ctx, { closeGraceMs: 200 });
  return { ctx, server, secret };
}
