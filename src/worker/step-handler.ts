import { limitJson } from "../pipelines/output-limit.js";
import type { PipelineStepDefinition, StepContext } from "../pipelines/pipeline.js";
import { type Json, jsonByteLength } from "../shared/json.js";

export type StepOutcome =
  | { kind: "output"; output: Json; truncated: boolean; message: string | null }
  | { kind: "alternatives"; alternatives: Json[] }
  | { kind: "failed"; error: string }
  | { kind: "aborted"; reason: string };

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

/**
 * Runs a step handler and turns whatever it does into an outcome. The abort signal wins at once even
 * if the handler ignores it, so a cancelled run frees its worker slot within one heartbeat. Outputs
 * over MAX_STEP_OUTPUT_BYTES are cut and flagged; oversized alternatives fail the step (a person must
 * be able to see every alternative in full).
 */
export async function runStepHandler(
  definition: PipelineStepDefinition,
  context: StepContext,
): Promise<StepOutcome> {
  const { signal } = context;
  const { maxOutputBytes } = context.limits;
  const handled = (async (): Promise<StepOutcome> => {
    try {
      const result = await definition.run(context);
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
    } catch (error) {
      if (signal.aborted) return { kind: "aborted", reason: messageOf(signal.reason) };
      return { kind: "failed", error: messageOf(error) };
    }
  })();
  const aborted = whenAborted(signal);
  try {
    return await Promise.race([handled, aborted.promise]);
  } finally {
    aborted.dispose();
  }
}
