import type { HandleResult } from "../commands/command-handler.js";
import type { EventStore } from "../event-store/event-store.js";
import { runStreamName } from "../runs/events.js";
import { evolveStored, isTerminal, type Run, type RunState } from "../runs/state.js";

/**
 * The worker's view of one run, folded from its stream: updated by the results of the worker's own
 * commands and by reading new events at each heartbeat (cancellation, takeover, stale failure).
 */
export class RunTracker {
  constructor(
    private readonly store: EventStore,
    readonly runId: string,
    public state: Run,
    public revision: number,
  ) {}

  /** Takes the state a command returned, unless a newer one is known already. */
  accept(result: HandleResult<RunState>): Run {
    if (result.state.exists && result.revision !== null && result.revision >= this.revision) {
      this.state = result.state;
      this.revision = result.revision;
    }
    return this.state;
  }

  /** Folds the events appended since the last known revision. */
  async refresh(): Promise<Run> {
    const from = { state: this.state, revision: this.revision };
    const events = await this.store.readStream(runStreamName(this.runId), { after: from.revision });
    const state = evolveStored(from.state, events);
    const last = events.at(-1);
    if (last && state.exists && last.revision > this.revision) {
      this.state = state;
      this.revision = last.revision;
    }
    return this.state;
  }
}

/** Why `workerId` must stop working on the run, or null while it still holds it. */
export function lostReason(run: Run, workerId: string): string | null {
  if (isTerminal(run)) return `run is ${run.status}`;
  if (run.workerId !== workerId)
    return run.workerId ? `run was taken over by ${run.workerId}` : "run was released";
  return null;
}
