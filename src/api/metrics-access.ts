import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "../config/config.js";
import type { Logger } from "../config/logger.js";
import { sendMetrics } from "../streaming/metrics-endpoint.js";
import { ignoreBody } from "./get-only.js";

export const METRICS_PATH = "/metrics";

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** With METRICS_TOKEN set, a scrape must send it as a bearer token (compared in constant time). */
function metricsAuthorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), digest(token));
}

/** GET /metrics, as Prometheus scrapes it; 401 without the configured token. */
export async function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  config: Pick<Config, "METRICS_TOKEN">,
): Promise<void> {
  ignoreBody(req, res);
  if (!metricsAuthorized(req, config.METRICS_TOKEN)) {
    res.writeHead(401, { "www-authenticate": "Bearer", "content-type": "text/plain; charset=utf-8" });
    res.end("metrics need `Authorization: Bearer <METRICS_TOKEN>`\n");
    return;
  }
  await sendMetrics(res);
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * With METRICS_PORT set, metrics are served there only (as Prometheus exporters do), so the API's
 * port can be public while the metrics port stays on an internal network.
 */
export async function startMetricsServer(
  config: Pick<Config, "METRICS_TOKEN" | "METRICS_PORT" | "HOST">,
  logger: Logger,
): Promise<MetricsServer | null> {
  if (config.METRICS_PORT === undefined) return null;
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== METRICS_PATH) {
      ignoreBody(req, res);
      res.writeHead(404).end();
      return;
    }
    serveMetrics(req, res, config).catch((error: unknown) => {
      logger.error({ err: error }, "serving metrics failed");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.METRICS_PORT, config.HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ port }, "metrics served on their own port");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
