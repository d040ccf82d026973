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
import os from "node:os";
import path from "node:path";
import { PostgresEventStore } from "../src/event-store/postgres/postgres-event-store.js";
import { RunWriter } from "./fanout/run-writer.js";
import { BenchClients, BenchServer, type Finished, stamp } from "./fanout/session.js";
import {
  type Bench,
  type BenchDatabase,
  type BenchEnv,
  type BenchFigure,
  figure,
  numberParam,
  param,
  summarizeLatencies,
} from "./harness.js";

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

/** CPU time of every core so far (busy, all), in ms: what the whole machine did in a phase. */
function machineCpu(): { busy: number; all: number } {
  let busy = 0;
  let all = 0;
  for (const { times } of os.cpus()) {
    const total = times.user + times.nice + times.sys + times.idle + times.irq;
    all += total;
    busy += total - times.idle;
  }
  return { busy, all };
}

interface Phase {
  finished: Finished;
  expected: number;
  /** Busy share of all the machine's cores over the phase (server, clients, database, bench). */
  machineBusy: number;
  serverCpuShare: number;
  /** Server CPU (user + system) over the phase, in seconds. */
  serverCpuSeconds: number;
}

/** Calls `emit(i)` `count` times at `rate`/s (open loop: each is due at start + i / rate). */
async function steady(rate: number, count: number, emit: (i: number) => Promise<void>): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1_000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    await emit(i);
  }
}

/** One measured phase: `emit` sends the phase's events (and returns the last k), clients measure. */
async function measure(
  server: BenchServer,
  clients: BenchClients,
  emit: () => Promise<number>,
  expected: number,
): Promise<Phase> {
  const cpuBefore = (await server.memory()).cpu;
  const machineBefore = machineCpu();
  const started = performance.now();
  await clients.start();
  if (profileDir) await server.profileStart();
  const last = await emit();
  await clients.seen(last, 10_000);
  const finished = await clients.finish();
  if (profileDir) await server.profileStop(path.join(profileDir, `fanout-${Date.now()}.cpuprofile`));
  const cpuAfter = (await server.memory()).cpu;
  const machineAfter = machineCpu();
  const elapsed = (performance.now() - started) / 1_000;
  const cpu = (cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system) / 1e6;
  const machineBusy = (machineAfter.busy - machineBefore.busy) / (machineAfter.all - machineBefore.all);
  return { finished, expected, machineBusy, serverCpuShare: cpu / elapsed, serverCpuSeconds: cpu };
}

/** The phase's events appended to one run at `rate`/s. */
const appendsTo =
  (writer: RunWriter, next: () => number, rate: number, count: number) => async (): Promise<number> => {
    await steady(rate, count, () => writer.progress([stamp(next())]));
    return next() - 1;
  };

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
      `CPU server ${(phase.serverCpuShare * 100).toFixed(0)}%, clients ${(cpuShare * 100).toFixed(0)}% (of one core); ` +
      `machine ${(phase.machineBusy * 100).toFixed(0)}% busy (all ${os.cpus().length} cores)`,
  );
}

const kb = (bytes: number) => bytes / 1024;
const usPerDelivery = (phase: Phase) =>
  phase.finished.received > 0 ? (phase.serverCpuSeconds * 1e6) / phase.finished.received : Number.NaN;

function phaseDetail(phase: Phase, subscribers: number, rate: number): Record<string, number | string> {
  return {
    subscribers,
    rate,
    deliveries: phase.finished.received,
    expectedDeliveries: phase.expected,
    outOfSequence: phase.finished.irregular,
    dropped: phase.finished.dropped,
    maxMs: Math.round(phase.finished.latency.max),
    serverCpuShare: Math.round(phase.serverCpuShare * 100) / 100,
    clientCpuShare: Math.round(phase.finished.cpuShare * 100) / 100,
    machineBusyShare: Math.round(phase.machineBusy * 100) / 100,
    serverUsPerDelivery: Math.round(usPerDelivery(phase) * 10) / 10,
  };
}

function warnIfIncomplete(env: BenchEnv, label: string, phase: Phase): void {
  const missing = phase.expected - phase.finished.received;
  if (missing > 0 || phase.finished.irregular > 0 || phase.finished.dropped > 0)
    env.log(
      `WARNING ${label}: ${missing} deliveries not received within 10 s of the last event, ${phase.finished.irregular} out of sequence, ${phase.finished.dropped} streams closed by the server`,
    );
}

interface Bare {
  phase: Phase;
  rssPerSubscriberKb: number;
}

/** The bare baseline at `subscribers`: one pre-serialised frame written to every socket. */
async function bareBaseline(
  env: BenchEnv,
  clients: BenchClients,
  subscribers: number,
  rate: number,
  seconds: number,
): Promise<Bare> {
  const server = await BenchServer.start(null, {}, "bare-server.ts");
  try {
    const idle = await server.memory();
    const opened = await clients.open(server, "bare", 0, subscribers, method);
    if (opened.failed > 0) throw new Error(`bare: ${opened.failed} of ${subscribers} streams failed`);
    let k = 0;
    await server.broadcast(k++);
    await clients.seen(k - 1);
    await sleep(1_000);
    const loaded = await server.memory();
    const count = Math.max(1, Math.round(rate * seconds));
    const phase = await measure(
      server,
      clients,
      async () => {
        await steady(rate, count, () => server.broadcast(k++));
        return k - 1;
      },
      subscribers * count,
    );
    logPhase(env, `bare baseline, ${subscribers} subscribers`, phase);
    const rssPerSubscriberKb = kb(loaded.rss - idle.rss) / subscribers;
    env.log(`bare baseline: ${rssPerSubscriberKb.toFixed(1)} KB RSS per idle subscriber`);
    return { phase, rssPerSubscriberKb };
  } finally {
    await clients.close().catch(() => undefined);
    await server.stop();
  }
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
  const largest = Math.max(...counts);

  const db = await env.createDatabase({ poolSize: 16 });
  let store: PostgresEventStore | null = null;
  let clients: BenchClients | null = null;
  const figures: BenchFigure[] = [];
  try {
    clients = await BenchClients.start();
    const bar = env.progress("fan-out: bare baseline", 1);
    const bare = await bareBaseline(env, clients, largest, rate, seconds);
    bar.stop();
    const bareUs = usPerDelivery(bare.phase);
    let single: Phase | null = null;
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
          const count = Math.round(rate * Math.min(seconds, 5));
          single = await measure(server, clients, appendsTo(writer, next, rate, count), count);
          logPhase(env, "1 subscriber", single);
          await clients.close();
        }
        if (profileDir) await server.heapStart();
        await openSubscribers(env, server, clients, writer, next, subscribers);
        await sleep(1_000);
        const loaded = await server.memory();
        if (profileDir) await server.heapStop(path.join(profileDir, `fanout-${subscribers}.heapprofile`));
        bar.update(2);
        const perSubscriberKb = kb(loaded.rss - idle.rss) / subscribers;
        env.log(
          `server RSS idle ${(idle.rss / 2 ** 20).toFixed(1)} MB, with ${subscribers} idle subscribers ${(loaded.rss / 2 ** 20).toFixed(1)} MB (heap ${(idle.heapUsed / 2 ** 20).toFixed(1)} -> ${(loaded.heapUsed / 2 ** 20).toFixed(1)} MB): ${perSubscriberKb.toFixed(1)} KB each`,
        );
        const count = Math.max(1, Math.round(rate * seconds));
        const phase = await measure(
          server,
          clients,
          appendsTo(writer, next, rate, count),
          subscribers * count,
        );
        bar.update(3);
        logPhase(env, `${subscribers} subscribers`, phase);
        await clients.close();
        bar.stop();
        const detail = phaseDetail(phase, subscribers, rate);
        const atLargest = subscribers === largest;
        for (const percentile of ["p50", "p99"] as const) {
          figures.push(
            figure({
              bench: NAME,
              name: `delivery latency ${percentile}, ${subscribers.toLocaleString("en-US")} subscribers at ${rate} events/s`,
              value: phase.finished.latency[percentile],
              unit: "ms",
              // Beside the bare server at the largest N (same subscribers, same rate, same run).
              baseline: atLargest
                ? {
                    name: `bare server ${percentile}, ${largest} subscribers`,
                    value: bare.phase.finished.latency[percentile],
                  }
                : { name: `1 subscriber ${percentile}`, value: single.finished.latency[percentile] },
              ...(percentile === "p99" && subscribers >= TARGET_SUBSCRIBERS
                ? { target: { op: "<=" as const, value: 250 } }
                : {}),
              detail: { ...detail, percentile },
            }),
          );
        }
        if (atLargest) {
          figures.push(
            figure({
              bench: NAME,
              name: `server CPU per delivery, ${subscribers.toLocaleString("en-US")} subscribers`,
              value: usPerDelivery(phase),
              unit: "µs",
              baseline: { name: "bare server µs per delivery", value: bareUs },
              // The goal is a ratio: at most 3x the bare server's cost, measured in the same run.
              target: { op: "<=", value: 3 * bareUs },
              detail,
            }),
          );
        }
        figures.push(
          figure({
            bench: NAME,
            name: `server RSS per idle subscriber, ${subscribers.toLocaleString("en-US")} subscribers`,
            value: perSubscriberKb,
            unit: "KB",
            baseline: { name: "bare server KB per idle subscriber", value: bare.rssPerSubscriberKb },
            target: { op: "<=", value: 30 },
            detail: {
              subscribers,
              idleRssMb: Math.round(idle.rss / 2 ** 20),
              loadedRssMb: Math.round(loaded.rss / 2 ** 20),
              heapPerSubscriberKb: Math.round((kb(loaded.heapUsed - idle.heapUsed) / subscribers) * 10) / 10,
              gc: String(loaded.gc),
            },
          }),
        );
        warnIfIncomplete(env, `at ${subscribers} subscribers`, phase);
      } finally {
        bar.stop();
        await clients.close().catch(() => undefined);
        await server.stop();
      }
    }
    store ??= await PostgresEventStore.create(db.pool);
    try {
      figures.push(...(await manyRuns(env, db, store, clients)));
    } catch (error) {
      // Reported, not fatal: the single-run figures above stand on their own.
      env.log(`NOT MEASURED: many runs: ${(error as Error).message}`);
    }
  } finally {
    await clients?.stop();
    await store?.close();
    await db.drop();
  }
  return figures;
}

/** `work` over `items`, at most `concurrency` at a time. */
async function inBatches<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/**
 * The bare baseline of the many-runs shape: the same subscribers (one stream per connection, named
 * by run), the same events per run and rate, each frame written by the bare server to its run's
 * streams, without a store or GraphQL.
 */
async function bareManyRuns(
  env: BenchEnv,
  clients: BenchClients,
  shape: { runs: number; subscribers: number; total: number; rounds: number },
): Promise<Phase> {
  const server = await BenchServer.start(null, {}, "bare-server.ts");
  try {
    const runIds = Array.from({ length: shape.runs }, (_, index) => `bare-${index}`);
    const opened = await clients.open(server, runIds, 0, shape.subscribers, method);
    if (opened.failed > 0) throw new Error(`bare: ${opened.failed} of ${shape.subscribers} streams failed`);
    await server.runLoad(runIds, 0, 1, shape.total);
    const synced = await clients.seen(0);
    if (synced.behind > 0)
      throw new Error(`bare: ${synced.behind} subscribers never received the sync event`);
    const phase = await measure(
      server,
      clients,
      async () => {
        await server.runLoad(runIds, 1, shape.rounds, shape.total);
        return shape.rounds;
      },
      shape.subscribers * shape.rounds,
    );
    logPhase(env, `bare baseline, ${shape.subscribers} subscribers over ${shape.runs} runs`, phase);
    return phase;
  } finally {
    await clients.close().catch(() => undefined);
    await server.stop();
  }
}

/**
 * Many runs at once: `runSubscribers` subscribers (default 10,000) spread over `runs` runs (2,000),
 * `runRate` events/s in total (2,000), one event per run per round. Each run's appends go one after
 * another (its writer holds the expected revision); at most 128 appends are in flight.
 */
async function manyRuns(
  env: BenchEnv,
  db: BenchDatabase,
  store: PostgresEventStore,
  clients: BenchClients,
): Promise<BenchFigure[]> {
  const runs = numberParam(env, NAME, "runs", 2_000);
  const subscribers = numberParam(env, NAME, "runSubscribers", 10_000);
  const total = numberParam(env, NAME, "runRate", 2_000);
  const seconds = numberParam(env, NAME, "seconds", 10 * env.flags.scale);
  if (subscribers + FD_MARGIN > openFilesLimit()) {
    env.log(`skipping ${subscribers} subscribers over ${runs} runs: the open-files limit is too low`);
    return [];
  }
  const bar = env.progress(`fan-out: ${subscribers} subscribers over ${runs} runs`, 4);
  const rounds = Math.max(1, Math.round((seconds * total) / runs));
  const bareRuns = await bareManyRuns(env, clients, { runs, subscribers, total, rounds });
  bar.update(1);
  const server = await BenchServer.start(db, SERVER_ENV);
  try {
    const writers = Array.from({ length: runs }, () => new RunWriter(store));
    await inBatches(writers, 16, (writer) => writer.start());
    await inBatches(writers, 8, (writer) => server.waitForRun(writer.runId, 120_000));
    bar.update(2);
    const after = writers[0]?.revision ?? -1;
    const opened = await clients.open(
      server,
      writers.map((writer) => writer.runId),
      after,
      subscribers,
      method,
    );
    if (opened.failed > 0)
      throw new Error(
        `${opened.failed} of ${subscribers} subscriptions failed: ${opened.errorSamples.join(" | ")}`,
      );
    let round = 0;
    await inBatches(writers, 32, (writer) => writer.progress([stamp(round)]));
    const synced = await clients.seen(round++);
    if (synced.behind > 0) throw new Error(`${synced.behind} subscribers never received the sync event`);
    env.log(`${subscribers} subscribers over ${runs} runs open in ${Math.round(opened.ms)} ms`);
    bar.update(3);
    const chains = new Map<RunWriter, Promise<void>>();
    let inFlight = 0;
    let appended = 0;
    const appendMs: number[] = [];
    const started = performance.now();
    const phase = await measure(
      server,
      clients,
      async () => {
        const first = round;
        await steady(total, rounds * runs, async (i) => {
          while (inFlight >= 128) await sleep(1);
          const writer = writers[i % runs] as RunWriter;
          const k = first + Math.floor(i / runs);
          inFlight++;
          const done = (chains.get(writer) ?? Promise.resolve())
            .then(async () => {
              // The append's own time is part of every delivery's: reported beside it.
              const called = performance.now();
              await writer.progress([stamp(k)]);
              appendMs.push(performance.now() - called);
            })
            .finally(() => {
              inFlight--;
              appended++;
            });
          chains.set(writer, done);
        });
        await Promise.all(chains.values());
        round = first + rounds;
        return round - 1;
      },
      subscribers * rounds,
    );
    const achieved = appended / ((performance.now() - started) / 1_000);
    bar.update(4);
    logPhase(
      env,
      `${subscribers} subscribers over ${runs} runs (${achieved.toFixed(0)} events/s appended)`,
      phase,
    );
    const appends = summarizeLatencies(appendMs);
    env.log(`appends (commit, in the bench process): p50 ${ms(appends.p50)} p99 ${ms(appends.p99)}`);
    warnIfIncomplete(env, `${subscribers} subscribers over ${runs} runs`, phase);
    const detail = {
      ...phaseDetail(phase, subscribers, total),
      runs,
      appendedPerSecond: Math.round(achieved),
      appendP50Ms: Math.round(appends.p50),
      appendP99Ms: Math.round(appends.p99),
    };
    return [
      figure({
        bench: NAME,
        name: `delivery latency p99, ${subscribers.toLocaleString("en-US")} subscribers over ${runs.toLocaleString("en-US")} runs at ${total.toLocaleString("en-US")} events/s`,
        value: phase.finished.latency.p99,
        unit: "ms",
        baseline: {
          name: `bare server p99, same runs and rate (p50 ${Math.round(bareRuns.finished.latency.p50)})`,
          value: bareRuns.finished.latency.p99,
        },
        target: { op: "<=", value: 250 },
        detail: {
          ...detail,
          percentile: "p99",
          p50: Math.round(phase.finished.latency.p50),
          bareClientCpuShare: Math.round(bareRuns.finished.cpuShare * 100) / 100,
        },
      }),
      figure({
        bench: NAME,
        name: `server CPU per delivery, ${subscribers.toLocaleString("en-US")} subscribers over ${runs.toLocaleString("en-US")} runs`,
        value: usPerDelivery(phase),
        unit: "µs",
        baseline: { name: "bare server µs per delivery, same runs and rate", value: usPerDelivery(bareRuns) },
        detail,
      }),
    ];
  } finally {
    bar.stop();
    await clients.close().catch(() => undefined);
    await server.stop();
  }
}

const bench: Bench = { name: NAME, run };
export default bench;
