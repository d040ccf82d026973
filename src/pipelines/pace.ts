import { setTimeout as sleep } from "node:timers/promises";
import type { StepContext } from "./pipeline.js";

/**
 * The input's `delayMs` knob: spends that long in chunks, reporting progress after each, and stops
 * as soon as the step's signal aborts (cancellation, lost lease, worker shutdown).
 */
export async function pace(ctx: StepContext, delayMs: number, activity: string): Promise<void> {
  ctx.signal.throwIfAborted();
  if (delayMs <= 0) return;
  const chunks = Math.min(20, Math.max(1, Math.ceil(delayMs / 500)));
  for (let chunk = 1; chunk <= chunks; chunk++) {
    await sleep(delayMs / chunks, undefined, { signal: ctx.signal });
    await ctx.reportProgress((0.9 * chunk) / chunks, `${activity} (${chunk}/${chunks})`);
  }
}
