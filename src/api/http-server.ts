import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sendNodeResponse } from "@whatwg-node/server";
import type { AppContext } from "../app/app-context.js";
import { bodyTooLarge } from "../auth/body-limit.js";
import { ensureApiTokens } from "../auth/bootstrap.js";
import { redactUrl } from "../config/redact.js";
import { CONSOLE_PATH, createConsoleHandler } from "../console/console-route.js";
import { newId } from "../shared/ids.js";
import {
  type FanoutServerContext,
  listenersSince,
  takeOverResponse,
} from "../streaming/fanout/sse-fanout-plugin.js";
import { ignoreBody } from "./get-only.js";
import { DEFAULT_READINESS, type ReadinessOptions } from "./health.js";
import { METRICS_PATH, serveMetrics, startMetricsServer } from "./metrics-access.js";
import { readinessEndpoint } from "./readiness-endpoint.js";
import { type RequestScope, runInRequestScope } from "./request-scope.js";
import { createGraphQLHandler } from "./yoga.js";

export interface RunningHttpServer {
  port: number;
  /** The metrics port when METRICS_PORT moves /metrics off the API's port. */
  metricsPort: number | null;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  readiness?: ReadinessOptions;
  /** How long close() lets requests in flight finish before cutting their connections. */
  closeGraceMs?: number;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** A client's own request id is kept when it looks sane, so logs on both sides line up. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[\w.:-]{1,100}$/.test(given) ? given : newId();
}

/** Serves GraphQL at /graphql (GraphiQL in browsers), the console at /console, /healthz (process up) and /readyz. */
export async function startHttpServer(
  ctx: AppContext,
  options: HttpServerOptions = {},
): Promise<RunningHttpServer> {
  const logger = ctx.logger.child({ component: "http" });
  // Before listening: production without tokens stops here; a first start creates one.
  await ensureApiTokens(ctx);
  const graphql = createGraphQLHandler(ctx);
  const readyz = readinessEndpoint(ctx, options.readiness ?? DEFAULT_READINESS, logger);
  const metricsServer = await startMetricsServer(ctx.config, logger);
  const serveConsole = createConsoleHandler();

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    // GET-only endpoints never read a body sent along (see get-only.ts).
    if (path === "/healthz" || path === "/readyz") ignoreBody(req, res);
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === METRICS_PATH && !metricsServer) return serveMetrics(req, res, ctx.config);
    if (path === CONSOLE_PATH || path?.startsWith(`${CONSOLE_PATH}/`)) return serveConsole(req, res);
    if (path === "/readyz") return readyz(req, res);
    const refusal = bodyTooLarge(req, ctx.config.MAX_BODY_BYTES);
    if (refusal) return sendJson(res, refusal.status, refusal.body);
    // Yoga answers; a subscription the SSE fan-out took over is then served on `res` directly.
    const serverContext: FanoutServerContext = { res, sseTakeover: true };
    const yogaListeners = listenersSince(req, res);
    const response = await graphql.handleNodeRequestAndResponse(req, res, { req, ...serverContext });
    if (!takeOverResponse(res, response, yogaListeners)) await sendNodeResponse(response, res, req, true);
  }

  const server = createServer((req, res) => {
    const scope: RequestScope = { requestId: requestIdOf(req), operationName: null, unexpectedErrors: 0 };
    const started = performance.now();
    res.setHeader("x-request-id", scope.requestId);
    // One line per request, written when the response ends (or the client goes away).
    res.once("close", () => {
      const line = {
        requestId: scope.requestId,
        method: req.method,
        path: redactUrl(req.url ?? "/"),
        status: res.statusCode,
        operation: scope.operationName,
        durationMs: Math.round(performance.now() - started),
        ...(scope.unexpectedErrors > 0 ? { unexpectedErrors: scope.unexpectedErrors } : {}),
      };
      if (scope.unexpectedErrors > 0 || res.statusCode >= 500) logger.warn(line, "request");
      else logger.info(line, "request");
    });
    runInRequestScope(scope, () =>
      route(req, res).catch((error: unknown) => {
        logger.error({ err: error, requestId: scope.requestId }, "request failed");
        if (!res.headersSent) sendJson(res, 500, { error: "internal error", correlationId: scope.requestId });
        else res.destroy();
      }),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(ctx.config.PORT, ctx.config.HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ port }, "HTTP server listening");

  return {
    port,
    metricsPort: metricsServer?.port ?? null,
    async close() {
      await metricsServer?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Streams (subscriptions) never end by themselves: cut what is still open after the grace.
      const grace = setTimeout(() => server.closeAllConnections(), options.closeGraceMs ?? 5_000);
      await closed;
      clearTimeout(grace);
      await graphql.dispose();
    },
  };
}
