import type { AppContext } from "../app/app-context.js";
import { pendingMigrations } from "../db/migrate.js";

export interface ReadinessOptions {
  /** Events a projection may still have to apply while the process counts as ready. */
  maxProjectionLag: number;
  /** How long one append may hold the event log's order (others queue behind it) while ready; 1 s. */
  maxAppendHoldMs?: number;
  /** Each check fails when it takes longer than this (a hung database must not hang the probe). */
  checkTimeoutMs: number;
}

export const DEFAULT_READINESS: ReadinessOptions = { maxProjectionLag: 100, checkTimeoutMs: 2_000 };

/** Why the process is not ready, in words that name no host, port, driver or error text. */
export type NotReadyCause =
  | "database unreachable"
  | "pending migrations"
  | "projections behind"
  | "appends stalled";

export interface Readiness {
  ready: boolean;
  cause?: NotReadyCause;
  checks: Record<string, { ok: boolean; detail?: unknown }>;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function check(ms: number, run: () => Promise<{ ok: boolean; detail?: unknown }>) {
  try {
    return await withTimeout(run(), ms);
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  }
}

/**
 * Ready = the database answers, every migration is applied and the read models are nearly caught up.
 * The cause names the first failing check in that order: a database that cannot be reached also fails
 * the other two, and is the one to report.
 */
export async function checkReadiness(
  ctx: AppContext,
  options: ReadinessOptions = DEFAULT_READINESS,
): Promise<Readiness> {
  const ms = options.checkTimeoutMs;
  const database = await check(ms, async () => {
    await ctx.db.pool.query("SELECT 1");
    return { ok: true };
  });
  if (!database.ok) {
    const skipped = { ok: false, detail: "not checked: the database is unreachable" };
    return {
      ready: false,
      cause: "database unreachable",
      checks: { database, migrations: skipped, projections: skipped, eventLog: skipped },
    };
  }
  const [migrations, projections, eventLog] = await Promise.all([
    check(ms, async () => {
      const pending = await pendingMigrations(ctx.db.pool);
      return pending.length === 0 ? { ok: true } : { ok: false, detail: { pending } };
    }),
    check(ms, async () => {
      const statuses = await ctx.projections.status();
      const behind = statuses.filter((status) => status.lag > options.maxProjectionLag);
      const lag = Object.fromEntries(statuses.map((status) => [status.name, status.lag]));
      return { ok: behind.length === 0, detail: { lag, maxLag: options.maxProjectionLag } };
    }),
    // A stalled append holds every other one back (lag 0 would then be a lie): not ready meanwhile.
    check(ms, async () => {
      const status = await ctx.store.appendStatus?.();
      if (!status) return { ok: true };
      const maxHoldMs = options.maxAppendHoldMs ?? 1_000;
      return { ok: status.heldForMs <= maxHoldMs, detail: { ...status, maxHoldMs } };
    }),
  ]);
  const checks = { database, migrations, projections, eventLog };
  const cause = !migrations.ok
    ? "pending migrations"
    : !projections.ok
      ? "projections behind"
      : !eventLog.ok
        ? "appends stalled"
        : undefined;
  return cause ? { ready: false, cause, checks } : { ready: true, checks };
}
