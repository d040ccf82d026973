import { limitJson } from "../pipelines/output-limit.js";
import type { StepContext, StepResult } from "../pipelines/pipeline.js";
import { type Json, jsonByteLength } from "../shared/json.js";
import { StepExecutorError } from "./step-threads.js";

export type StepOutcome =
  | { kind: "output"; output: Json; truncated: boolean; message: string | null }
  | { kind: "alternatives"; alternatives: Json[] }
  | { kind: "failed"; error: string }
  | { kind: "aborted"; reason: string };

/** Runs a step's handler with this context: in a worker thread, or in-process for in-code test pipelines. */
export type StepExecution = (context: StepContext) => Promise<StepResult>;

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message || error.name : String(error ?? "unknown error");

/** Resolves when `signal` aborts; `dispose` detaches the listener once the race is over. */
function whenAborted(signal: AbortSignal): { promise: Promise<StepOutcome>; dispose(): void } {
  let done: () => void = () => undefined;
  const promise = new Promise<StepOutcome>((resolve) => {
    done = () => resolve({ kind: "aborted", reason: messageOf(signal.reason) });
    if (signal.aborted) done();
    else signal.addEventListener("abort", done, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", done) };
}

function outcomeOf(result: StepResult, maxOutputBytes: number): StepOutcome {
  if ("alternatives" in result) {
    if (!Array.isArray(result.alternatives) || result.alternatives.length === 0) {
      return { kind: "failed", error: "the step returned no alternatives" };
    }
    const bytes = jsonByteLength(result.alternatives);
    if (bytes > maxOutputBytes) {
      return {
        kind: "failed",
        error: `the step's alternatives take ${bytes} bytes, over the limit of ${maxOutputBytes} bytes (MAX_STEP_OUTPUT_BYTES)`,
      };
    }
    return { kind: "alternatives", alternatives: result.alternatives };
  }
  const limited = limitJson(result.output ?? null, maxOutputBytes);
  const messages = [result.message, limited.message].filter((text): text is string => Boolean(text));
  return {
    kind: "output",
    output: limited.output,
    truncated: Boolean(result.truncated) || limited.truncated,
    message: messages.length > 0 ? messages.join("; ") : null,
  };
}

/**
 * Runs a step and turns whatever it does into an outcome. The abort signal wins at once even if the
 * handler ignores it, so a cancelled run frees its worker slot within one heartbeat. A step over its
 * time budget (`timeoutMs`) is aborted too (a thread executing it is terminated) and fails: that
 * failure is an attempt like any other. Outputs over MAX_STEP_OUTPUT_BYTES are cut and flagged;
 * oversized alternatives fail the step (a person must be able to see every alternative in full).
 */
export async function runStepHandler(
  execute: StepExecution,
  context: StepContext,
  timeoutMs: number,
  stepId: string,
): Promise<StepOutcome> {
  const { maxOutputBytes } = context.limits;
  const budget = new AbortController();
  const timer = setTimeout(
    () =>
      budget.abort(
        new StepExecutorError(
          `step ${stepId} ran over its time budget of ${timeoutMs} ms (STEP_TIMEOUT_MS) and was stopped`,
        ),
      ),
    timeoutMs,
  );
  const signal = AbortSignal.any([context.signal, budget.signal]);
  const handled = (async (): Promise<StepOutcome> => {
    try {
      return outcomeOf(await execute({ ...context, signal }), maxOutputBytes);
    } catch (error) {
      if (context.signal.aborted) return { kind: "aborted", reason: messageOf(context.signal.reason) };
      return { kind: "failed", error: messageOf(budget.signal.aborted ? budget.signal.reason : error) };
    }
  })();
  const aborted = whenAborted(signal);
  try {
    const outcome = await Promise.race([handled, aborted.promise]);
    // Over budget (not cancelled): the step fails, it is not merely given up.
    if (outcome.kind === "aborted" && !context.signal.aborted) {
      return { kind: "failed", error: messageOf(budget.signal.reason) };
    }
    return outcome;
  } finally {
    clearTimeout(timer);
    aborted.dispose();
  }
}
