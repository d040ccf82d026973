/**
 * Catch-up throughput: a client that reconnects after missing `events` (default 10,000) events of
 * one run subscribes to `runEvents(runId, after)` over SSE (POST /graphql, distinct connections) and
 * reads until the last missed event: events/s from sending the subscription to receiving that event.
 * Baseline in the same run: reading the same events with `store.readStream` alone, in pages of the
 * size the stream reads with (500). The server is a child process of its own (bench/fanout/sse-server.ts);
 * the client (raw http, counting `event: next` frames) and the baseline run in this process.
 *
 * Params (`--param catchup.<key>=<value>`): events (default 10,000 x scale), rounds (default 3; the
 * median is reported).
 */
import http from "node:http";
import path from "node:path";
import { PostgresEventStore } from "../src/event-store/postgres/postgres-event-store.js";
import { runStreamName } from "../src/runs/events.js";
import { RunWriter } from "./fanout/run-writer.js";
import { BenchServer } from "./fanout/session.js";
import { type Bench, type BenchEnv, type BenchFigure, figure, numberParam } from "./harness.js";

const NAME = "catchup";
const PAGE = 500;
const FRAME = "event: next\n";

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
};

interface CatchUp {
  seconds: number;
  firstByteMs: number;
  lastRevision: number;
}

/** Subscribes after `after` and resolves when `count` events have arrived (then hangs up). */
function catchUpOverSse(server: BenchServer, runId: string, after: number, count: number): Promise<CatchUp> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({
      query:
        "subscription($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision data } }",
      variables: { runId, after },
    });
    const started = performance.now();
    let firstByteMs = 0;
    let frames = 0;
    let carry = "";
    const request = http.request(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...server.headers },
    });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`only ${frames} of ${count} events after 120 s`));
    }, 120_000);
    request.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.on("response", (response) => {
      if (response.statusCode !== 200) {
        clearTimeout(timer);
        reject(new Error(`status ${response.statusCode}`));
        return;
      }
      response.setEncoding("latin1");
      response.on("data", (chunk: string) => {
        if (firstByteMs === 0) firstByteMs = performance.now() - started;
        // Frames may straddle chunks: keep the tail that could be the start of one.
        const text = carry + chunk;
        for (let at = text.indexOf(FRAME); at >= 0; at = text.indexOf(FRAME, at + FRAME.length)) frames++;
        carry = text.slice(-(FRAME.length - 1));
        if (frames >= count) {
          const seconds = (performance.now() - started) / 1_000;
          clearTimeout(timer);
          // The last event's `id:` line is its revision: proves the stream reached the right one.
          const ids = [...text.matchAll(/^id: (\d+)$/gm)];
          const lastRevision = Number(ids.at(-1)?.[1] ?? Number.NaN);
          request.destroy();
          resolve({ seconds, firstByteMs, lastRevision });
        }
      });
      response.on("end", () => {
        if (frames < count) {
          clearTimeout(timer);
          reject(new Error(`the stream ended after ${frames} of ${count} events`));
        }
      });
    });
    request.end(body);
  });
}

/** The same events through the store alone: paged readStream, as the stream's catch-up pages. */
async function readDirectly(
  store: PostgresEventStore,
  runId: string,
  after: number,
  count: number,
): Promise<number> {
  const started = performance.now();
  let cursor = after;
  let read = 0;
  while (read < count) {
    const page = await store.readStream(runStreamName(runId), { after: cursor, maxCount: PAGE });
    if (page.length === 0) throw new Error(`the stream ends after ${read} of ${count} events`);
    read += page.length;
    cursor = (page.at(-1) as { revision: number }).revision;
  }
  return (performance.now() - started) / 1_000;
}

async function run(env: BenchEnv): Promise<BenchFigure[]> {
  const events = Math.round(numberParam(env, NAME, "events", 10_000 * env.flags.scale));
  const rounds = Math.round(numberParam(env, NAME, "rounds", 3));
  const db = await env.createDatabase({ poolSize: 4 });
  let store: PostgresEventStore | null = null;
  let server: BenchServer | null = null;
  try {
    server = await BenchServer.start(db, { MAX_SUBSCRIPTIONS_PER_TOKEN: "1000" });
    store = await PostgresEventStore.create(db.pool);
    const writer = new RunWriter(store);
    await writer.start();
    await server.waitForRun(writer.runId);
    const missedFrom = writer.revision;
    const writing = env.progress(`appending ${events} events`, events);
    for (let written = 0; written < events; written += PAGE) {
      const batch = Math.min(PAGE, events - written);
      await writer.progress(Array.from({ length: batch }, (_, i) => `catch-up ${written + i} of ${events}`));
      writing.update(written + batch);
    }
    writing.stop();
    const lastRevision = writer.revision;
    // Warm-up of both paths (JIT, pools, the server's plan cache); not counted.
    await catchUpOverSse(server, writer.runId, lastRevision - 1_000, 1_000);
    await readDirectly(store, writer.runId, lastRevision - 1_000, 1_000);

    // BENCH_PROFILE_DIR=<dir>: a CPU profile of the server over the measured rounds.
    const profileDir = process.env.BENCH_PROFILE_DIR;
    if (profileDir) await server.profileStart();
    const bar = env.progress(`catch-up of ${events} events`, rounds);
    const sse: number[] = [];
    const direct: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const caughtUp = await catchUpOverSse(server, writer.runId, missedFrom, events);
      if (caughtUp.lastRevision !== lastRevision)
        throw new Error(`catch-up ended at revision ${caughtUp.lastRevision}, expected ${lastRevision}`);
      sse.push(events / caughtUp.seconds);
      direct.push(events / (await readDirectly(store, writer.runId, missedFrom, events)));
      env.log(
        `round ${round + 1}: SSE ${Math.round(events / caughtUp.seconds)} events/s (first byte ${caughtUp.firstByteMs.toFixed(1)} ms), readStream ${Math.round(direct.at(-1) as number)} events/s`,
      );
      bar.update(round + 1);
    }
    bar.stop();
    if (profileDir) await server.profileStop(path.join(profileDir, "catchup.cpuprofile"));
    return [
      figure({
        bench: NAME,
        name: `SSE catch-up of ${events.toLocaleString("en-US")} missed events (median of ${rounds})`,
        value: median(sse),
        unit: "events/s",
        baseline: { name: `readStream alone, pages of ${PAGE}`, value: median(direct) },
        target: { op: ">=", value: 20_000 },
        detail: {
          events,
          rounds,
          minEventsPerSecond: Math.round(Math.min(...sse)),
          maxEventsPerSecond: Math.round(Math.max(...sse)),
        },
      }),
    ];
  } finally {
    await server?.stop();
    await store?.close();
    await db.drop();
  }
}

const bench: Bench = { name: NAME, run };
export default bench;
