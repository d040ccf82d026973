/** Longest pause between automatic attempts, whatever the policy's backoff doubles to. */
const MAX_BACKOFF_MS = 60_000;

/**
 * Exponential backoff: `backoffMs` before the first retry, doubling for each one after. The count of
 * retries so far is the step's `automaticRetries`, folded by `evolve` like the rest of its state.
 */
export const retryDelayMs = (backoffMs: number, retriesSoFar: number): number =>
  Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** retriesSoFar);
