import type pg from "pg";
import { createLogger } from "../../src/config/logger.js";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma.js";
import { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";
import type { RunCommand } from "../../src/runs/commands.js";
import { executeRunCommand } from "../../src/runs/execute.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

export interface ProjectionFixture {
  db: TestDatabase;
  store: PostgresEventStore;
  prisma: PrismaClient;
  logger: ReturnType<typeof createLogger>;
  /** Set when projections should write through `pg` instead of Prisma. */
  pool?: pg.Pool;
  close(): Promise<void>;
}

export async function openFixture(options: { viaPool?: boolean } = {}): Promise<ProjectionFixture> {
  const db = await createTestDatabase();
  const store = await PostgresEventStore.create(db.pool, { pollIntervalMs: 200 });
  const prisma = createPrismaClient(db.url, 8);
  const logger = createLogger(process.env.LOG_LEVEL ?? "silent", "test");
  return {
    db,
    store,
    prisma,
    logger,
    pool: options.viaPool ? db.pool : undefined,
    async close() {
      await store.close();
      await prisma.$disconnect();
      await db.drop();
    },
  };
}

let clock = Date.parse("2026-01-01T00:00:00.000Z");
/** Distinct, increasing command times (ms precision, as the API produces them). */
export function tick(): string {
  clock += 1_000;
  return new Date(clock).toISOString();
}

type WithoutNow<C> = C extends unknown ? Omit<C, "now"> : never;

/** Runs a command through the real decider and store; returns the position it appended at. */
export async function run(
  store: PostgresEventStore,
  command: WithoutNow<RunCommand>,
): Promise<string | null> {
  const result = await executeRunCommand(store, { ...command, now: tick() } as RunCommand);
  return result.position;
}

export const STEPS = [
  { id: "plan", name: "Plan" },
  { id: "edit", name: "Edit" },
  { id: "review", name: "Review" },
];

export const startRun = (store: PostgresEventStore, runId: string) =>
  run(store, {
    type: "StartRun",
    runId,
    workspaceId: "ws-1",
    pipeline: "autofix",
    steps: STEPS,
    input: { repo: "acme/app", issue: 7 },
    idempotencyKey: null,
  });

export const claim = (store: PostgresEventStore, runId: string, workerId = "w1") =>
  run(store, {
    type: "ClaimRun",
    runId,
    workerId,
    leaseMs: 15_000,
    currentLeaseExpired: false,
    maxTakeovers: 3,
  });

/** Every row of the read model, in a stable order, as plain JSON (for comparisons). */
export async function snapshotRows(f: ProjectionFixture): Promise<{ runs: unknown[]; steps: unknown[] }> {
  const runs = await f.db.pool.query("SELECT * FROM runs ORDER BY id");
  const steps = await f.db.pool.query("SELECT * FROM steps ORDER BY run_id, id");
  return JSON.parse(JSON.stringify({ runs: runs.rows, steps: steps.rows }));
}

/**
 * Position of the newest run event in the store, once every stored event is readable: a transaction
 * still open (a projection batch, say) holds the global order back for a moment.
 */
export async function headPosition(f: ProjectionFixture): Promise<string> {
  const { rows } = await f.db.pool.query<{ count: string }>(
    "SELECT count(*) FROM rs_events WHERE stream_name LIKE 'run-%'",
  );
  const stored = Number(rows[0]?.count ?? 0);
  for (;;) {
    let after: string | null = null;
    let seen = 0;
    for (;;) {
      const page = await f.store.readAll({ after, maxCount: 1_000, streamPrefix: "run-" });
      const last = page.at(-1);
      if (!last) break;
      seen += page.length;
      after = last.position;
    }
    if (seen >= stored) return after ?? "";
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
