import type { EventStore, StoredEvent } from "../event-store/event-store.js";
import { runIdOfStream, runStreamName, runWorkspaceOf } from "../runs/events.js";

/**
 * Which workspace each run belongs to, for filtering the all-runs stream per caller. Learnt from the
 * RunStarted events going by (always a run's first event), else read once from the run's stream.
 * Bounded: the oldest entries go first.
 */
export class RunWorkspaces {
  private readonly known = new Map<string, string | null>();

  constructor(
    private readonly store: EventStore,
    private readonly maxEntries = 50_000,
  ) {}

  /** The workspace of the event's run, null when the run has no RunStarted (not a visible run). */
  async of(event: StoredEvent): Promise<string | null> {
    const runId = runIdOfStream(event.streamName);
    if (event.type === "RunStarted") {
      const workspaceId = runWorkspaceOf(event);
      this.remember(runId, workspaceId);
      return workspaceId;
    }
    const known = this.known.get(runId);
    if (known !== undefined) return known;
    const [first] = await this.store.readStream(runStreamName(runId), { maxCount: 1 });
    const workspaceId = runWorkspaceOf(first);
    this.remember(runId, workspaceId);
    return workspaceId;
  }

  private remember(runId: string, workspaceId: string | null): void {
    this.known.delete(runId);
    this.known.set(runId, workspaceId);
    if (this.known.size > this.maxEntries) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }
}
