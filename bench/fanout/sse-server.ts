/**
 * The API server of the streaming benches, in a process of its own (so that its RSS is its own and
 * its event loop serves only subscribers): the AppContext `npm run serve` builds, projections
 * following, no worker. Spawned with `--expose-gc`; talks to the bench over IPC (see child.ts).
 *
 * Environment: DATABASE_URL, plus BENCH_SERVER_ENV (JSON) with config overrides.
 * Messages: `memory` → { rss, heapUsed, ... } after two full GCs; `profile-start`, `profile-stop`
 * (a CPU profile to `file`); `stop` → exits.
 */
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { streamingMetrics } from "../../src/streaming/metrics.js";
import { startBenchServer } from "../support/bench-server.js";
import { serveParent } from "./child.js";

const { ctx, server, secret } = await startBenchServer("bench-server", "viewer", { RUN_WORKER: "false" });

let profiler: Session | null = null;
const gc = (globalThis as { gc?: () => void }).gc;

async function activeSubscriptions(): Promise<number> {
  const { values } = await streamingMetrics.activeSubscriptions.get();
  return values.reduce((sum, value) => sum + value.value, 0);
}

serveParent(async (message) => {
  switch (message.type) {
    case "memory": {
      // Twice: the first pass may only finalise what the second frees.
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
        subscriptions: await activeSubscriptions(),
        cpu: process.cpuUsage(),
      };
    }
    // A CPU profile of what happens between `profile-start` and `profile-stop` (written to `file`).
    case "profile-start":
      profiler ??= new Session();
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.start");
      return { type: "profile-started" };
    case "profile-stop": {
      if (!profiler) throw new Error("no profile started");
      const { profile } = await profiler.post("Profiler.stop");
      await writeFile(String(message.file), JSON.stringify(profile));
      profiler.disconnect();
      return { type: "profile-stopped" };
    }
    // What is still allocated (sampled, with the allocating stacks) of what was allocated since
    // `heap-start`: the memory a load holds on to.
    case "heap-start":
      profiler ??= new Session();
      profiler.connect();
      await profiler.post("HeapProfiler.enable");
      await profiler.post("HeapProfiler.startSampling", { samplingInterval: 4096 });
      return { type: "heap-started" };
    case "heap-stop": {
      if (!profiler) throw new Error("no heap sampling started");
      gc?.();
      const { profile } = await profiler.post("HeapProfiler.stopSampling");
      await writeFile(String(message.file), JSON.stringify(profile));
      profiler.disconnect();
      return { type: "heap-stopped" };
    }
    case "stop":
      await server.close();
      await ctx.close();
      process.exit(0);
      return null;
    default:
      throw new Error(`unknown message ${message.type}`);
  }
});
process.send?.({ type: "ready", port: server.port, token: secret });
