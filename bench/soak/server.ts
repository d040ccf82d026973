/**
 * The soak bench's application: API and worker in one process, as `npm start` runs them, apart from the
 * load generators so that its RSS and event loop are its own. Every second it samples RSS, heap and
 * the event loop's delay (`monitorEventLoopDelay`, reset each second). Talks to the bench over IPC
 * (see ../fanout/child.ts): sends `ready` {port, token} once serving; `samples` → the samples taken
 * since the last ask; `stop` → exits.
 *
 * Environment: DATABASE_URL, plus BENCH_SERVER_ENV (JSON) with config overrides.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { startWorker } from "../../src/worker/start-worker.js";
import { serveParent } from "../fanout/child.js";
import { startBenchServer } from "../support/bench-server.js";

export interface SoakSample {
  /** Seconds since the server was ready. */
  t: number;
  rssMb: number;
  heapMb: number;
  /** Event-loop delay over the last second, in ms. */
  delayP50: number;
  delayP99: number;
  delayMax: number;
}

const { ctx, server, secret } = await startBenchServer("soak-server", "operator");
const worker = await startWorker(ctx);

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const readyAt = performance.now();
let samples: SoakSample[] = [];
const ms = (nanoseconds: number) => Math.round(nanoseconds / 1e4) / 100;
const sampler = setInterval(() => {
  const memory = process.memoryUsage();
  samples.push({
    t: Math.round((performance.now() - readyAt) / 100) / 10,
    rssMb: Math.round(memory.rss / 2 ** 20),
    heapMb: Math.round(memory.heapUsed / 2 ** 20),
    delayP50: ms(delay.percentile(50)),
    delayP99: ms(delay.percentile(99)),
    delayMax: ms(delay.max),
  });
  delay.reset();
}, 1_000);

serveParent(async (message) => {
  switch (message.type) {
    case "samples": {
      const taken = samples;
      samples = [];
      return { type: "samples", samples: taken };
    }
    case "stop":
      clearInterval(sampler);
      await worker.stop();
      await server.close();
      await ctx.close();
      process.exit(0);
      return null;
    default:
      throw new Error(`unknown message ${message.type}`);
  }
});
process.send?.({ type: "ready", port: server.port, token: secret });
