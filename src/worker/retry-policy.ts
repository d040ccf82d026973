import type { StoredEvent } from "../event-store/event-store.js";

/** Longest pause between automatic attempts, whatever the policy's backoff doubles to. */
const MAX_BACKOFF_MS = 60_000;

/**
 * Automatic retries a step has had since it was last (re)started by a person: StepFailed events with
 * willRetry since its last StepRetried, RunResumed naming it, or RunRerun.
 */
export function automaticRetriesSoFar(events: StoredEvent[], stepId: string): number {
  let count = 0;
  for (const event of events) {
    const data = event.data as { stepId?: string; willRetry?: boolean; attempts?: Record<string, number> };
    if (event.type === "StepFailed" && data.stepId === stepId && data.willRetry) count++;
    else if (event.type === "StepRetried" && data.stepId === stepId) count = 0;
    else if (event.type === "RunResumed" && data.attempts?.[stepId] !== undefined) count = 0;
    else if (event.type === "RunRerun") count = 0;
  }
  return count;
}

/** Exponential backoff: `backoffMs` before the first retry, doubling for each one after. */
export const retryDelayMs = (backoffMs: number, retriesSoFar: number): number =>
  Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** retriesSoFar);
