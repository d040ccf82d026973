import type { Plugin } from "graphql-yoga";
import type { RunRecord } from "../projections/runs/run-rows.js";

/**
 * A command whose events were appended has happened, whatever the read model says: when the read
 * model has not caught up within READ_YOUR_WRITES_TIMEOUT_MS, the mutation still succeeds, answers
 * with the run as the command handler folded it, and says so in the result's
 * `extensions.readModelLag` (see docs/api-errors.md).
 */
interface Lag {
  runs: Map<string, RunRecord>;
  waitedMs: number;
}

const lags = new WeakMap<object, Lag>();

export function noteReadModelLag(context: object, run: RunRecord, waitedMs: number): void {
  const lag = lags.get(context) ?? { runs: new Map(), waitedMs };
  lag.runs.set(run.id, run);
  lag.waitedMs = Math.max(lag.waitedMs, waitedMs);
  lags.set(context, lag);
}

/** The run a command of this operation appended to, when the read model did not have it in time. */
export const laggingRun = (context: object, runId: string): RunRecord | undefined =>
  lags.get(context)?.runs.get(runId);

export const useReadModelLagNotes = (): Plugin => ({
  onExecute({ args }) {
    const context = args.contextValue as object;
    return {
      onExecuteDone({ result, setResult }) {
        const lag = lags.get(context);
        if (!lag || Symbol.asyncIterator in result) return;
        setResult({
          ...result,
          extensions: {
            ...result.extensions,
            readModelLag: {
              runs: [...lag.runs.keys()],
              waitedMs: lag.waitedMs,
              message:
                "the command succeeded and its events are stored; the read model had not caught up, so the run is answered as the events say and queries may show an older state for a while",
            },
          },
        });
      },
    };
  },
});
