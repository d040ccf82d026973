import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import type { AppContext } from "../../src/app/app-context.js";
import { executeRunCommand } from "../../src/runs/execute.js";
import { rowLeaseExpiry as effectiveLeaseExpiry } from "../../src/runs/lease.js";
import { findClaimableRuns } from "../../src/worker/claimable-runs.js";
import { LeaseBook } from "../../src/worker/leases.js";
import { sweepStaleRuns } from "../../src/worker/sweeper.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { eventsOf, openTestContext, readRun, startRun } from "./support.js";

// No worker runs here: runs are claimed by hand by workers that "died", so nothing executes them.
let db: TestDatabase;
let ctx: AppContext;

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await openTestContext(db.url);
});
afterAll(async () => {
  await ctx?.close();
  await db?.drop();
});

const input = { files: [{ path: "a.ts", content: "let a = 1;\n" }] };

/** A run held by `workerId` with a lease of `leaseMs` from its claim, visible in the read model. */
async function heldRun(workerId: string, leaseMs: number, takeovers = 0): Promise<string> {
  const runId = await startRun(ctx.store, ctx.pipelines, "autofix", input);
  let position: string | null = null;
  for (let claim = 0; claim <= takeovers; claim++) {
    const result = await executeRunCommand(ctx.store, {
      type: "ClaimRun",
      runId,
      now: new Date().toISOString(),
      workerId: claim === takeovers ? workerId : `${workerId}-before-${claim}`,
      leaseMs: claim === takeovers ? leaseMs : 1,
      currentLeaseExpired: true,
      maxTakeovers: 10,
    });
    position = result.position;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(position);
  await ctx.projections.waitFor(position, 5_000);
  return runId;
}

const settings = { maxTakeovers: 2, staleAfterMs: 60_000 };
const deps = () => ({ store: ctx.store, prisma: ctx.prisma, logger: ctx.logger });

test("effective lease expiry: the later of the claim's lease and the holder's heartbeats", () => {
  const claim = new Date("2030-01-01T00:00:00Z");
  const beat = new Date("2030-01-01T00:00:10Z");
  assert.equal(effectiveLeaseExpiry({ workerId: null, leaseExpiresAt: claim, lease: null }), null);
  assert.deepEqual(effectiveLeaseExpiry({ workerId: "w", leaseExpiresAt: claim, lease: null }), claim);
  assert.deepEqual(
    effectiveLeaseExpiry({ workerId: "w", leaseExpiresAt: claim, lease: { workerId: "w", expiresAt: beat } }),
    beat,
  );
  assert.deepEqual(
    effectiveLeaseExpiry({
      workerId: "w",
      leaseExpiresAt: claim,
      lease: { workerId: "other", expiresAt: beat },
    }),
    claim,
    "another worker's row says nothing about the holder",
  );
});

test("claimable runs: unheld ones, and held ones whose effective lease expired, within the takeover limit", async () => {
  const free = await startRun(ctx.store, ctx.pipelines, "autofix", input);
  const live = await heldRun("alive", 60_000);
  const expired = await heldRun("dead", 1);
  const heartbeating = await heldRun("beating", 1);
  await new LeaseBook(ctx.prisma, "beating", 60_000).hold(heartbeating);
  const exhausted = await heldRun("last", 1, 2);
  const position = (await ctx.store.readAll()).at(-1)?.position;
  assert.ok(position);
  await ctx.projections.waitFor(position, 5_000);

  const found = await findClaimableRuns(ctx.prisma, {
    now: new Date(),
    limit: 50,
    maxTakeovers: 2,
    exclude: [],
  });
  const byId = new Map(found.map((run) => [run.id, run]));
  assert.equal(byId.get(free)?.takeover, false);
  assert.equal(byId.get(expired)?.takeover, true);
  assert.ok(!byId.has(live), "a live claim lease");
  assert.ok(!byId.has(heartbeating), "a live heartbeat lease");
  assert.ok(!byId.has(exhausted), "no takeover left");
  const excluded = await findClaimableRuns(ctx.prisma, {
    now: new Date(),
    limit: 50,
    maxTakeovers: 2,
    exclude: [free],
  });
  assert.ok(!excluded.some((run) => run.id === free));

  // The stale-run sweep fails only the exhausted run; two sweepers at once fail it once.
  const [first, second] = await Promise.all([
    sweepStaleRuns(deps(), settings),
    sweepStaleRuns(deps(), settings),
  ]);
  assert.deepEqual([...first.failed, ...second.failed], [exhausted]);
  const { run, events } = await readRun(ctx.store, exhausted);
  assert.equal(run.status, "FAILED");
  assert.match(run.error ?? "", /^stale: lease of worker last expired after 2 takeover\(s\) \(limit 2\)/);
  assert.equal(eventsOf(events, "RunFailed").length, 1);
  for (const healthy of [free, live, expired, heartbeating]) {
    assert.notEqual((await readRun(ctx.store, healthy)).run.status, "FAILED", "never fails a healthy run");
  }
});

test("a run silent for STALE_AFTER_MS is failed even with a live lease; a sweep that lost the race skips", async () => {
  const silent = await heldRun("quiet", 600_000);
  await new LeaseBook(ctx.prisma, "quiet", 600_000).hold(silent);
  const later = new Date(Date.now() + 61_000);
  const sweeps = await Promise.all([
    sweepStaleRuns(deps(), settings, later),
    sweepStaleRuns(deps(), settings, later),
    sweepStaleRuns(deps(), settings, later),
  ]);
  // Every run held since before `later - STALE_AFTER_MS` is stale by then; each is failed exactly once.
  const failed = sweeps.flatMap((sweep) => sweep.failed);
  assert.ok(failed.includes(silent));
  assert.equal(new Set(failed).size, failed.length);
  assert.ok(sweeps.reduce((sum, sweep) => sum + sweep.skipped, 0) >= 2);
  const { run, events } = await readRun(ctx.store, silent);
  assert.match(run.error ?? "", /no progress for \d+ ms while held by worker quiet/);
  assert.equal(eventsOf(events, "RunFailed").length, 1);
});
