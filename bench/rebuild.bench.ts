/**
 * Rebuild throughput of the runs projection over a generated history (>= 200,000 events at scale 1),
 * next to reading the same events from the event store alone (readAll paging), in the same run; and
 * the rebuild's peak memory over runs with 1 MB inputs, next to the size of what is stored.
 */
import { randomUUID } from "node:crypto";
import { createLogger } from "../src/config/logger.js";
import { migrate } from "../src/db/migrate.js";
import { createPrismaClient } from "../src/db/prisma.js";
import { PostgresEventStore } from "../src/event-store/postgres/postgres-event-store.js";
import { rebuildProjections } from "../src/projections/rebuild.js";
import { generateFast } from "../test/projections/generate-history.js";
import { type Bench, type BenchEnv, type BenchFigure, figure } from "./harness.js";

const EVENTS = 200_000;
const READ_PAGE = 5_000;
/**
 * Runs with a large input each (the shape of the #14 report: runs with ~1 MB inputs), at two store
 * sizes: a bounded rebuild peaks at about the same memory for both.
 */
const BIG_RUNS = [100, 300];
const BIG_INPUT_BYTES = 1_000_000;

/** Highest RSS growth over `baseline` while `work` runs, sampled every 20 ms. */
async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakMb: (peak - baseline) / 1_048_576 };
  } finally {
    clearInterval(timer);
  }
}

/** RunStarted events with BIG_INPUT_BYTES of (repetitive, so highly compressible) code each. */
async function appendBigRuns(store: PostgresEventStore, runs: number): Promise<number> {
  const line = "var a = 1;  \n";
  const source = line.repeat(Math.ceil(BIG_INPUT_BYTES / line.length)).slice(0, BIG_INPUT_BYTES);
  const at = new Date().toISOString();
  for (let index = 0; index < runs; index++) {
    const runId = `big-${index}-${randomUUID()}`;
    await store.appendToStream(`run-${runId}`, [
      {
        id: randomUUID(),
        type: "RunStarted",
        data: {
          runId,
          workspaceId: "bench",
          pipeline: "autofix",
          input: { files: [{ path: "big.js", content: source }] },
          idempotencyKey: null,
          steps: [{ id: "analyze", name: "Analyze" }],
          at,
        },
        occurredAt: new Date(),
      },
    ]);
  }
  return (runs * BIG_INPUT_BYTES) / 1_048_576;
}

async function bigInputs(env: BenchEnv, count: number): Promise<BenchFigure> {
  const runs = Math.max(20, Math.round(count * env.flags.scale));
  const db = await env.createDatabase({ poolSize: 8 });
  const prisma = createPrismaClient(db.url, 4);
  let store: PostgresEventStore | null = null;
  try {
    await migrate(db.url);
    store = await PostgresEventStore.create(db.pool);
    const storedMb = await appendBigRuns(store, runs);
    const logger = createLogger("warn", "bench");
    const opened = store;
    const { result, peakMb } = await peakRssGrowth(() =>
      rebuildProjections({ store: opened, prisma, pool: db.pool, logger }, ["runs"]),
    );
    env.log(
      `rebuilt ${result.eventsReplayed} runs of ${BIG_INPUT_BYTES / 1e6} MB input (${Math.round(storedMb)} MB stored) in ${result.durationMs} ms, peak RSS growth ${Math.round(peakMb)} MB`,
    );
    return figure({
      bench: "rebuild",
      name: `rebuild peak RSS growth, ${runs} runs with 1 MB inputs`,
      value: peakMb,
      unit: "MB",
      baseline: { name: "input data stored (MB)", value: storedMb },
    });
  } finally {
    await store?.close();
    await prisma.$disconnect();
    await db.drop();
  }
}

async function readEverything(store: PostgresEventStore): Promise<number> {
  let after: string | null = null;
  let count = 0;
  for (;;) {
    const page = await store.readAll({ after, maxCount: READ_PAGE, streamPrefix: "run-" });
    const last = page.at(-1);
    if (!last) return count;
    count += page.length;
    after = last.position;
  }
}

async function run(env: BenchEnv): Promise<BenchFigure[]> {
  const target = Math.max(10_000, Math.round(EVENTS * env.flags.scale));
  const db = await env.createDatabase({ poolSize: 12 });
  const prisma = createPrismaClient(db.url, 6);
  let store: PostgresEventStore | null = null;
  try {
    await migrate(db.url);
    store = await PostgresEventStore.create(db.pool);
    const generating = env.progress(`generating ${target} events`, target);
    const started = performance.now();
    const events = await generateFast(store, { events: target, seed: 7, wave: 250, chunk: 4 });
    generating.stop();
    env.log(`generated ${events} events in ${((performance.now() - started) / 1_000).toFixed(1)} s`);
    await db.pool.query("VACUUM ANALYZE");

    const readStarted = performance.now();
    const read = await readEverything(store);
    const readPerSecond = read / ((performance.now() - readStarted) / 1_000);

    const bar = env.progress("rebuilding runs", events);
    const logger = createLogger("warn", "bench");
    const opened = store;
    const { result, peakMb } = await peakRssGrowth(() =>
      rebuildProjections({ store: opened, prisma, pool: db.pool, logger }, ["runs"], (p) =>
        bar.update(p.replayed),
      ),
    );
    bar.stop();
    const perSecond = result.eventsReplayed / (result.durationMs / 1_000);
    env.log(
      `rebuilt ${result.eventsReplayed} events in ${result.durationMs} ms, peak RSS growth ${Math.round(peakMb)} MB`,
    );
    return [
      figure({
        bench: "rebuild",
        name: `runs projection rebuild (${result.eventsReplayed} events)`,
        value: perSecond,
        unit: "events/s",
        baseline: { name: "readAll paging alone", value: readPerSecond },
        target: { op: ">=", value: 20_000 },
      }),
    ];
  } finally {
    await store?.close();
    await prisma.$disconnect();
    await db.drop();
  }
}

const bench: Bench = {
  name: "rebuild",
  run: async (env) => {
    const figures = await run(env);
    for (const runs of BIG_RUNS) figures.push(await bigInputs(env, runs));
    return figures;
  },
};
export default bench;
