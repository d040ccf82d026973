/**
 * Append throughput of the PostgreSQL event store, each figure next to plain INSERTs of the same
 * rows into an equivalent table (same columns and indexes) with the same concurrency and batch size,
 * measured in the same run on the same server.
 */
import { randomUUID } from "node:crypto";
import type { NewEvent } from "../src/event-store/event-store.js";
import { PostgresEventStore } from "../src/event-store/postgres/postgres-event-store.js";
import { type Bench, type BenchEnv, type BenchFigure, figure, measureThroughput } from "./harness.js";

const PLAIN_TABLE = `
CREATE TABLE plain_events (
  seq bigserial PRIMARY KEY,
  transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  stream_name text NOT NULL,
  revision bigint NOT NULL,
  event_id uuid NOT NULL UNIQUE,
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream_name, revision)
);
CREATE INDEX ON plain_events (transaction_id, seq);`;

const PLAIN_INSERT = `
INSERT INTO plain_events (stream_name, revision, event_id, type, data, metadata, occurred_at)
SELECT $1, $2 + i.ord, i.id, i.type, i.data, i.metadata, i.occurred
FROM unnest($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[], $7::timestamptz[]) WITH ORDINALITY
  AS i(id, type, data, metadata, occurred, ord)`;

const PLAIN_INSERT_ONE = `
INSERT INTO plain_events (stream_name, revision, event_id, type, data, metadata, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`;

const event = (index: number): NewEvent => ({
  id: randomUUID(),
  type: "StepProgressed",
  data: {
    stepId: "analyse",
    attempt: 1,
    progress: index / 1000,
    message: "scanning files",
    at: new Date().toISOString(),
  },
  metadata: { commandId: randomUUID() },
  occurredAt: new Date(),
});

interface Scenario {
  name: string;
  writers: number;
  batch: number;
  target?: number;
}

const SCENARIOS: Scenario[] = [
  { name: "single-event appends, 1 writer", writers: 1, batch: 1 },
  { name: "single-event appends, 16 writers", writers: 16, batch: 1, target: 5_000 },
  { name: "batched appends (100/append), 1 writer", writers: 1, batch: 100, target: 50_000 },
  { name: "batched appends (100/append), 4 writers", writers: 4, batch: 100, target: 50_000 },
];

async function runScenario(env: BenchEnv, scenario: Scenario, seconds: number): Promise<BenchFigure> {
  const db = await env.createDatabase({ poolSize: scenario.writers + 2 });
  try {
    await db.pool.query(PLAIN_TABLE);
    const store = await PostgresEventStore.create(db.pool);
    const key = randomUUID().slice(0, 8);
    // Each writer appends to its own stream with the exact expected revision, as the command handler does.
    const revisions = new Array<number>(scenario.writers).fill(-1);
    const appended = await measureThroughput({
      seconds,
      concurrency: scenario.writers,
      weight: scenario.batch,
      progress: env.progress(`${scenario.name} (store)`, seconds),
      operation: async (writer) => {
        const events = Array.from({ length: scenario.batch }, (_, index) => event(index));
        const current = revisions[writer] as number;
        const result = await store.appendToStream(`run-${key}-${writer}`, events, {
          expectedRevision: current < 0 ? "no_stream" : current,
        });
        revisions[writer] = result.nextExpectedRevision;
      },
    });
    await store.close();

    const plainRevisions = new Array<number>(scenario.writers).fill(-1);
    const plain = await measureThroughput({
      seconds,
      concurrency: scenario.writers,
      weight: scenario.batch,
      progress: env.progress(`${scenario.name} (INSERT)`, seconds),
      operation: async (writer) => {
        const events = Array.from({ length: scenario.batch }, (_, index) => event(index));
        const revision = plainRevisions[writer] as number;
        plainRevisions[writer] = revision + events.length;
        const stream = `run-${key}-${writer}`;
        if (events.length === 1) {
          const [one] = events as [NewEvent];
          await db.pool.query(PLAIN_INSERT_ONE, [
            stream,
            revision + 1,
            one.id,
            one.type,
            JSON.stringify(one.data),
            JSON.stringify(one.metadata ?? {}),
            one.occurredAt.toISOString(),
          ]);
          return;
        }
        await db.pool.query(PLAIN_INSERT, [
          stream,
          revision,
          events.map((e) => e.id),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => JSON.stringify(e.metadata ?? {})),
          events.map((e) => e.occurredAt.toISOString()),
        ]);
      },
    });
    env.log(
      `${scenario.name}: ${Math.round(appended.perSecond)} events/s (plain INSERT ${Math.round(plain.perSecond)})`,
    );
    return figure({
      bench: "appends",
      name: scenario.name,
      value: appended.perSecond,
      unit: "events/s",
      baseline: { name: "plain INSERT", value: plain.perSecond },
      ...(scenario.target ? { target: { op: ">=" as const, value: scenario.target } } : {}),
    });
  } finally {
    await db.drop();
  }
}

const appends: Bench = {
  name: "appends",
  async run(env) {
    const seconds = 4 * env.flags.scale;
    const figures: BenchFigure[] = [];
    for (const scenario of SCENARIOS) figures.push(await runScenario(env, scenario, seconds));
    return figures;
  },
};

export default appends;
