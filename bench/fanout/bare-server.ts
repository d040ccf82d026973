/**
 * The fan-out benches' bare baseline: a plain Node HTTP server that answers every request with an
 * SSE stream and, on `broadcast`, builds ONE frame (shaped like a runEvents frame, so the same
 * clients parse it) and writes that same buffer to every open stream. What any SSE fan-out costs at
 * the least on this machine: the socket writes. Memory and CPU as in sse-server.ts.
 *
 * Messages: `broadcast` { k } → `broadcasted` (every stream); `run-load` { runIds, first, rounds,
 * rate } → `run-loaded` (each run's streams, at a steady rate); `memory`; `stop`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { serveParent } from "./child.js";

const streams = new Set<http.ServerResponse>();
/** The streams by the `runId` their subscription names (many-runs load). */
const byRun = new Map<string, Set<http.ServerResponse>>();
const RUN_ID = /"runId":"([^"]+)"/;

const server = http.createServer((req, res) => {
  // The subscription is read for its run only (POST body or GET query); the stream starts at once.
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => {
    if (body.length < 4_096) body += chunk;
  });
  req.on("end", () => {
    const runId = RUN_ID.exec(body || decodeURIComponent(req.url ?? ""))?.[1] ?? "";
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write(":\n\n");
    streams.add(res);
    const ofRun = byRun.get(runId) ?? new Set<http.ServerResponse>();
    byRun.set(runId, ofRun);
    ofRun.add(res);
    res.on("close", () => {
      streams.delete(res);
      ofRun.delete(res);
    });
  });
});

/** A runEvents-shaped frame for event `k`, stamped now. */
function frameOf(k: number): Buffer {
  const data = JSON.stringify({
    data: { runEvents: { revision: k, data: { message: `t=${Date.now()} k=${k}` } } },
    extensions: { cursor: String(k) },
  });
  return Buffer.from(`id: ${k}\nevent: next\ndata: ${data}\n\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The many-runs load, driven here (no store, no IPC per event): `rounds` events to each of the
 * runs, one run after another at `rate` events/s in all, each frame written to its run's streams.
 */
async function runLoad(runIds: string[], first: number, rounds: number, rate: number): Promise<void> {
  const started = performance.now();
  const count = runIds.length * rounds;
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1_000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    const frame = frameOf(first + Math.floor(i / runIds.length));
    for (const res of byRun.get(runIds[i % runIds.length] as string) ?? []) res.write(frame);
  }
}
server.keepAliveTimeout = 0;
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const gc = (globalThis as { gc?: () => void }).gc;
const { port } = server.address() as AddressInfo;

serveParent(async (message) => {
  switch (message.type) {
    case "broadcast": {
      const frame = frameOf(Number(message.k));
      for (const res of streams) res.write(frame);
      return { type: "broadcasted" };
    }
    case "run-load": {
      await runLoad(
        message.runIds as string[],
        Number(message.first),
        Number(message.rounds),
        Number(message.rate),
      );
      return { type: "run-loaded" };
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
