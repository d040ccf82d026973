import { randomUUID } from "node:crypto";
import type { EventStore } from "../../src/event-store/event-store.js";
import type { RunCommand } from "../../src/runs/commands.js";
import { decide } from "../../src/runs/decide.js";
import { runStreamName } from "../../src/runs/events.js";
import { evolve, initialState, type RunState } from "../../src/runs/state.js";
import { newId } from "../../src/shared/ids.js";

const WORKER = "bench-worker";

/**
 * One run held by a (pretend) worker, written straight to its stream as the worker's commands would
 * write it: events decided by the real decider, appended with the expected revision. No stream read
 * per append (the writer is the only one), so an append costs what the store's append costs.
 */
export class RunWriter {
  readonly runId = randomUUID();
  private state: RunState = initialState();
  /** Revision of the stream's last event, -1 before the first. */
  revision = -1;

  constructor(private readonly store: EventStore) {}

  /** StartRun, ClaimRun and StartStep of the first step of the default `autofix` pipeline. */
  async start(workspaceId = "default"): Promise<void> {
    const runId = this.runId;
    const now = new Date().toISOString();
    await this.append([
      {
        type: "StartRun",
        runId,
        now,
        workspaceId,
        pipeline: "autofix",
        steps: [{ id: "analyze", name: "Analyze" }],
        input: { repo: "acme/bench" },
        idempotencyKey: null,
      },
      {
        type: "ClaimRun",
        runId,
        now,
        workerId: WORKER,
        leaseMs: 3_600_000,
        currentLeaseExpired: false,
        maxTakeovers: 3,
      },
      { type: "StartStep", runId, now, workerId: WORKER, stepId: "analyze" },
    ]);
  }

  /** One StepProgressed event per message, appended together. */
  progress(messages: string[]): Promise<void> {
    const now = new Date().toISOString();
    return this.append(
      messages.map((message) => ({
        type: "ReportProgress" as const,
        runId: this.runId,
        now,
        workerId: WORKER,
        stepId: "analyze",
        progress: null,
        message,
      })),
    );
  }

  private async append(commands: RunCommand[]): Promise<void> {
    let state = this.state;
    const events = commands.flatMap((command) =>
      decide(command, state).map((event) => {
        state = evolve(state, event);
        return {
          id: newId(),
          type: event.type,
          data: event.data as never,
          occurredAt: new Date(command.now),
        };
      }),
    );
    const result = await this.store.appendToStream(runStreamName(this.runId), events, {
      expectedRevision: this.revision < 0 ? "no_stream" : this.revision,
    });
    this.state = state;
    this.revision = result.nextExpectedRevision;
  }
}
