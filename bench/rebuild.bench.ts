/**
 * Rebuild throughput of the runs projection over a generated history (>= 200,000 events at scale 1),
 * next to reading the same events from the event store alone (readAll paging), in the same run.
 */
import { createLogger } from "../src/config/logger.js";
import { migrate } from "../src/db/migrate.js";
import { createPrismaClient } from "../src/db/prisma.js";
import { PostgresEventStore } from "../src/event-store/postgres/postgres-event-store.js";
import { rebuildProjections } from "../src/projections/rebuild.js";
import { generateFast } from "../test/projections/generate-history.js";
import { type Bench, type BenchEnv, type BenchFigure, figure } from "./harness.js";

const EVENTS = 200_000;
const READ_PAGE = 5_000;

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
    const result = await rebuildProjections({ store, prisma, pool: db.pool, logger }, ["runs"], (p) =>
      bar.update(p.replayed),
    );
    bar.stop();
    const perSecond = result.eventsReplayed / (result.durationMs / 1_000);
    env.log(`rebuilt ${result.eventsReplayed} events in ${result.durationMs} ms`);
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

const bench: Bench = { name: "rebuild", run };
export default bench;
