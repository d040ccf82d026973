import type { IncomingMessage, ServerResponse } from "node:http";

/** Whether the request announces a body (a GET-only endpoint must not spend time or memory on it). */
const hasBody = (req: IncomingMessage): boolean =>
  req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;

/**
 * For endpoints that only answer GET (/healthz, /readyz, /metrics): a body sent along is never read.
 * The answer says `connection: close` and the socket is closed once it is sent, so Node does not drain
 * (read and discard) the rest of an upload of any size after the response.
 */
export function ignoreBody(req: IncomingMessage, res: ServerResponse): void {
  if (!hasBody(req)) return;
  res.shouldKeepAlive = false;
  res.setHeader("connection", "close");
  res.once("finish", () => {
    if (!req.complete) req.socket.destroy();
  });
}
