/**
 * The fan-out benches' bare baseline: a plain Node HTTP server that answers every request with an
 * SSE stream and, on `broadcast`, builds ONE frame (shaped like a runEvents frame, so the same
 * clients parse it) and writes that same buffer to every open stream. What any SSE fan-out costs at
 * the least on this machine: the socket writes. Memory and CPU as in sse-server.ts.
 *
 * Messages: `broadcast` { k, t } → `broadcasted`; `memory`; `stop`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { serveParent } from "./child.js";

const streams = new Set<http.ServerResponse>();
const server = http.createServer((req, res) => {
  // The request body (a subscription) is not read for meaning; the stream starts at once.
  req.resume();
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.write(":\n\n");
  streams.add(res);
  res.on("close", () => streams.delete(res));
});
server.keepAliveTimeout = 0;
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const gc = (globalThis as { gc?: () => void }).gc;
const { port } = server.address() as AddressInfo;

serveParent(async (message) => {
  switch (message.type) {
    case "broadcast": {
      const k = Number(message.k);
      const data = JSON.stringify({
        data: { runEvents: { revision: k, data: { message: `t=${Number(message.t)} k=${k}` } } },
        extensions: { cursor: String(k) },
      });
      const frame = Buffer.from(`id: ${k}\nevent: next\ndata: ${data}\n\n`);
      for (const res of streams) res.write(frame);
      return { type: "broadcasted" };
    }
    case "memory": {
      gc?.();
      await new Promise((resolve) => setImmediate(resolve));
      gc?.();
      const usage = process.memoryUsage();
      return {
        type: "memory",
        rss: usage.rss,
        heapUsed: usage.heapUsed,
        external: usage.external,
        gc: gc !== undefined,
        subscriptions: streams.size,
        cpu: process.cpuUsage(),
      };
    }
    // Profiles are of the API server; the baseline's only cost is its socket writes.
    case "profile-start":
      return { type: "profile-started" };
    case "profile-stop":
      return { type: "profile-stopped" };
    case "stop":
      for (const res of streams) res.destroy();
      server.close();
      process.exit(0);
      return null;
    default:
      throw new Error(`unknown message ${message.type}`);
  }
});
process.send?.({ type: "ready", port, token: "none" });
