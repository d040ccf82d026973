import type { ServerResponse } from "node:http";
import { metricsRegistry } from "./metrics.js";

/** GET /metrics: the process's Prometheus metrics in the text exposition format. */
export async function sendMetrics(res: ServerResponse): Promise<void> {
  const body = await metricsRegistry.metrics();
  res.writeHead(200, { "content-type": metricsRegistry.contentType, "cache-control": "no-store" });
  res.end(body);
}
