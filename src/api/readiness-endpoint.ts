import type { IncomingMessage, ServerResponse } from "node:http";
import type { AppContext } from "../app/app-context.js";
import { bearerSecretOf } from "../auth/authenticate.js";
import { callerOfSecret } from "../auth/token-store.js";
import type { Logger } from "../config/logger.js";
import { checkReadiness, type Readiness, type ReadinessOptions } from "./health.js";

/**
 * /readyz for load balancers and strangers: the status and, when not ready, its cause category
 * ("database unreachable", ...), never hosts, ports or driver errors. An admin token gets every check
 * with its detail; the details also go to the log whenever readiness changes.
 */
export function readinessEndpoint(ctx: AppContext, options: ReadinessOptions, logger: Logger) {
  let last: string | undefined;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const result = await checkReadiness(ctx, options);
    const summary = result.cause ?? "ready";
    if (summary !== last) {
      last = summary;
      if (result.ready) logger.info({ checks: result.checks }, "ready");
      else logger.warn({ cause: result.cause, checks: result.checks }, "not ready");
    }
    const body: Partial<Readiness> = (await isAdmin(ctx, req, options.checkTimeoutMs))
      ? result
      : { ready: result.ready, ...(result.cause ? { cause: result.cause } : {}) };
    res.writeHead(result.ready ? 200 : 503, {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
    });
    res.end(JSON.stringify(body));
  };
}

async function isAdmin(ctx: AppContext, req: IncomingMessage, timeoutMs: number): Promise<boolean> {
  if (!req.headers.authorization) return false;
  const secret = bearerSecretOf(
    new Request("http://localhost/readyz", { headers: { authorization: req.headers.authorization } }),
  );
  if (!secret) return false;
  // A database that cannot answer cannot vouch for the token either: status only.
  const timeout = new Promise<null>((resolve) => setTimeout(resolve, timeoutMs, null).unref());
  const caller = await Promise.race([callerOfSecret(ctx.db.pool, secret).catch(() => null), timeout]);
  return caller?.admin === true;
}
