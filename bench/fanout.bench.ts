/**
 * SSE fan-out: N concurrent subscribers of one run's `runEvents` (distinct-connections SSE, POST
 * /graphql) while the run's worker appends StepProgressed events at a steady rate. The server runs
 * in a child process of its own (a fresh one per N, so that its RSS is its own), the subscribers in
 * another (raw http requests), the appends in this one (like a worker process would).
 *
 * Figures per N: delivery latency p50/p99 from the append call to the subscriber's receive (the
 * append time travels in the event's message; same machine clock), beside the same path with ONE
 * subscriber; and server RSS per idle subscriber, (RSS with N idle - RSS of the same server with
 * none) / N after full GCs, beside the idle server's RSS.
 *
 * Params (`--param fanout.<key>=<value>`): subscribers (default "100,1000,5000"), rate (events/s,
 * default 10), seconds (measured per N, default 10 x scale), method (POST, as graphql-sse's client
 * subscribes, or GET, as EventSource does). Each N must fit the open-files limit (`ulimit -n`), since
 * every subscriber is a socket in both children; larger ones are skipped with a message.
 * BENCH_PROFILE_DIR=<dir> writes a CPU profile of each measured phase and a heap sampling profile of
 * the memory the idle subscribers hold.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { PostgresEventStore } from "../src/event-store/postgres/postgres-event-store.js";
import { RunWriter } from "./fanout/run-writer.js";
import { BenchClients, BenchServer, type Finished, stamp } from "./fanout/session.js";
import { type Bench, type BenchEnv, type BenchFigure, figure, numberParam, param } from "./harness.js";

const NAME = "fanout";
/** BENCH_PROFILE_DIR=<dir>: a CPU profile of the server during each measured phase, for finding costs. */
const profileDir = process.env.BENCH_PROFILE_DIR;
/** Limits of the bench's own token and streams raised; everything else as configured by default. */
const SERVER_ENV = { MAX_SUBSCRIPTIONS_PER_TOKEN: "1000000" };
/** File descriptors each child keeps besides its sockets (modules, pipes, database connections). */
const FD_MARGIN = 200;
const TARGET_SUBSCRIBERS = 5_000;
/** How subscribers subscribe: POST (graphql-sse's client) or GET (a browser's EventSource). */
let method: "GET" | "POST" = "POST";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The open-files limit children inherit (each subscriber is one socket in each child). */
function openFilesLimit(): number {
  const out = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim();
  return out === "unlimited" ? Number.POSITIVE_INFINITY : Number(out);
}

interface Phase {
  finished: Finished;
  expected: number;
  serverCpuShare: number;
}

/** Appends `count` stamped events at `rate`/s (open loop: each is due at start + i / rate). */
async function steadyAppends(
  writer: RunWriter,
  next: () => number,
  rate: number,
  count: number,
): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1_000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    await writer.progress([stamp(next())]);
  }
}

async function measure(
  server: BenchServer,
  clients: BenchClients,
  writer: RunWriter,
  next: () => number,
  subscribers: number,
  rate: number,
  seconds: number,
): Promise<Phase> {
  const count = Math.max(1, Math.round(rate * seconds));
  const cpuBefore = (await server.memory()).cpu;
  const started = performance.now();
  await clients.start();
  if (profileDir) await server.profileStart();
  await steadyAppends(writer, next, rate, count);
  const last = next() - 1;
  await clients.seen(last, 10_000);
  const finished = await clients.finish();
  if (profileDir) {
    const file = path.join(profileDir, `fanout-${subscribers}.cpuprofile`);
    await server.profileStop(file);
  }
  const cpuAfter = (await server.memory()).cpu;
  const elapsed = (performance.now() - started) / 1_000;
  const cpu = cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system;
  return { finished, expected: subscribers * count, serverCpuShare: cpu / 1e6 / elapsed };
}

/** Opens `count` subscribers after the run's current revision and waits until all are live. */
async function openSubscribers(
  env: BenchEnv,
  server: BenchServer,
  clients: BenchClients,
  writer: RunWriter,
  next: () => number,
  count: number,
): Promise<void> {
  const opened = await clients.open(server, writer.runId, writer.revision, count, method);
  if (opened.failed > 0) {
    throw new Error(`${opened.failed} of ${count} subscriptions failed: ${opened.errorSamples.join(" | ")}`);
  }
  // An event every subscriber must receive: then each is past its catch-up and attached live.
  const k = next();
  await writer.progress([stamp(k)]);
  const seen = await clients.seen(k);
  if (seen.behind > 0)
    throw new Error(`${seen.behind} of ${count} subscribers never received the sync event`);
  env.log(
    `${count} subscribers open in ${Math.round(opened.ms)} ms, all live ${Math.round(seen.ms)} ms later`,
  );
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

function logPhase(env: BenchEnv, label: string, phase: Phase): void {
  const { latency, received, irregular, dropped, cpuShare } = phase.finished;
  env.log(
    `${label}: p50 ${ms(latency.p50)} p90 ${ms(latency.p90)} p99 ${ms(latency.p99)} max ${ms(latency.max)}; ` +
      `${received}/${phase.expected} deliveries, ${irregular} out of sequence, ${dropped} dropped; ` +
      `CPU server ${(phase.serverCpuShare * 100).toFixed(0)}%, clients ${(cpuShare * 100).toFixed(0)}%`,
  );
}

async function run(env: BenchEnv): Promise<BenchFigure[]> {
  const rate = numberParam(env, NAME, "rate", 10);
  const seconds = numberParam(env, NAME, "seconds", 10 * env.flags.scale);
  const requested = param(env, NAME, "subscribers", "100,1000,5000")
    .split(",")
    .map((value) => Number(value.trim()));
  if (requested.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error(`--param ${NAME}.subscribers must be positive integers`);
  const methodParam = param(env, NAME, "method", "POST").toUpperCase();
  if (methodParam !== "GET" && methodParam !== "POST")
    throw new Error(`--param ${NAME}.method must be GET or POST`);
  method = methodParam;
  const limit = openFilesLimit();
  const counts = requested.filter((n) => n + FD_MARGIN <= limit);
  for (const n of requested.filter((n) => !counts.includes(n)))
    env.log(`skipping ${n} subscribers: the open-files limit is ${limit} (raise it with ulimit -n)`);

  const db = await env.createDatabase({ poolSize: 4 });
  let store: PostgresEventStore | null = null;
  let clients: BenchClients | null = null;
  const figures: BenchFigure[] = [];
  let single: Phase | null = null;
  try {
    clients = await BenchClients.start();
    for (const subscribers of counts) {
      const bar = env.progress(`fan-out to ${subscribers} subscribers`, 4);
      // A fresh server per N: its RSS then owes nothing to the previous, larger or smaller, load.
      const server = await BenchServer.start(db, SERVER_ENV);
      try {
        store ??= await PostgresEventStore.create(db.pool);
        const writer = new RunWriter(store);
        await writer.start();
        await server.waitForRun(writer.runId);
        let k = 0;
        const next = () => k++;
        // Warm-up (code paths compiled, pools filled), then the idle server's memory.
        await openSubscribers(env, server, clients, writer, next, 20);
        await clients.close();
        await sleep(500);
        const idle = await server.memory();
        if (idle.subscriptions !== 0) throw new Error(`${idle.subscriptions} subscriptions still open`);
        bar.update(1);
        if (!single) {
          await openSubscribers(env, server, clients, writer, next, 1);
          single = await measure(server, clients, writer, next, 1, rate, Math.min(seconds, 5));
          logPhase(env, "1 subscriber (baseline)", single);
          await clients.close();
        }
        if (profileDir) await server.heapStart();
        await openSubscribers(env, server, clients, writer, next, subscribers);
        await sleep(1_000);
        const loaded = await server.memory();
        if (profileDir) await server.heapStop(path.join(profileDir, `fanout-${subscribers}.heapprofile`));
        bar.update(2);
        const perSubscriberKb = (loaded.rss - idle.rss) / subscribers / 1024;
        env.log(
          `server RSS idle ${(idle.rss / 2 ** 20).toFixed(1)} MB, with ${subscribers} idle subscribers ${(loaded.rss / 2 ** 20).toFixed(1)} MB (heap ${(idle.heapUsed / 2 ** 20).toFixed(1)} -> ${(loaded.heapUsed / 2 ** 20).toFixed(1)} MB): ${perSubscriberKb.toFixed(1)} KB each`,
        );
        const phase = await measure(server, clients, writer, next, subscribers, rate, seconds);
        bar.update(3);
        logPhase(env, `${subscribers} subscribers`, phase);
        await clients.close();
        bar.stop();
        const { latency } = phase.finished;
        const detail = {
          subscribers,
          rate,
          deliveries: phase.finished.received,
          expectedDeliveries: phase.expected,
          outOfSequence: phase.finished.irregular,
          dropped: phase.finished.dropped,
          maxMs: Math.round(latency.max),
          serverCpuShare: Math.round(phase.serverCpuShare * 100) / 100,
          clientCpuShare: Math.round(phase.finished.cpuShare * 100) / 100,
        };
        for (const percentile of ["p50", "p99"] as const) {
          figures.push(
            figure({
              bench: NAME,
              name: `delivery latency ${percentile}, ${subscribers.toLocaleString("en-US")} subscribers at ${rate} events/s`,
              value: latency[percentile],
              unit: "ms",
              baseline: { name: `1 subscriber ${percentile}`, value: single.finished.latency[percentile] },
              ...(percentile === "p99" && subscribers >= TARGET_SUBSCRIBERS
                ? { target: { op: "<=" as const, value: 250 } }
                : {}),
              detail: { ...detail, percentile },
            }),
          );
        }
        figures.push(
          figure({
            bench: NAME,
            name: `server RSS per idle subscriber, ${subscribers.toLocaleString("en-US")} subscribers`,
            value: perSubscriberKb,
            unit: "KB",
            baseline: { name: "idle server RSS (KB)", value: idle.rss / 1024 },
            target: { op: "<=", value: 30 },
            detail: {
              subscribers,
              idleRssMb: Math.round(idle.rss / 2 ** 20),
              loadedRssMb: Math.round(loaded.rss / 2 ** 20),
              heapPerSubscriberKb:
                Math.round(((loaded.heapUsed - idle.heapUsed) / subscribers / 1024) * 10) / 10,
              gc: String(loaded.gc),
            },
          }),
        );
        const missing = phase.expected - phase.finished.received;
        if (missing > 0 || phase.finished.irregular > 0 || phase.finished.dropped > 0)
          env.log(
            `WARNING at ${subscribers} subscribers: ${missing} deliveries not received within 10 s of the last append, ${phase.finished.irregular} out of sequence, ${phase.finished.dropped} streams closed by the server`,
          );
      } finally {
        bar.stop();
        await clients.close().catch(() => undefined);
        await server.stop();
      }
    }
  } finally {
    await clients?.stop();
    await store?.close();
    await db.drop();
  }
  return figures;
}

const bench: Bench = { name: NAME, run };
export default bench;
