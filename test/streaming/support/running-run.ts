import { randomUUID } from "node:crypto";
import type { EventStore } from "../../../src/event-store/event-store.js";
import { runStreamName } from "../../../src/runs/events.js";
import { executeRunCommand } from "../../../src/runs/execute.js";
import { gqlAs, type StreamingApp } from "./streaming-app.js";

/**
 * A run of the `steps` pipeline started through the API, claimed and with its step running, so that
 * StepProgressed events can be appended straight to its stream (`store`: the app's, or another
 * connection to the same database when a test cuts the app's).
 */
export async function startRunningRun(
  app: StreamingApp,
  { store = app.ctx.store, workerId = "streaming-test", leaseMs = 600_000 } = {},
): Promise<string> {
  const data = await gqlAs<{ startRun: { id: string } }>(
    app,
    'mutation { startRun(pipeline: "steps", input: {}) { id } }',
  );
  const runId = data.startRun.id;
  const now = () => new Date().toISOString();
  await executeRunCommand(store, {
    type: "ClaimRun",
    runId,
    now: now(),
    workerId,
    leaseMs,
    currentLeaseExpired: false,
    maxTakeovers: 3,
  });
  await executeRunCommand(store, { type: "StartStep", runId, now: now(), workerId, stepId: "work" });
  return runId;
}

/**
 * `count` progress events of the running step (`bytes` of message each), appended in batches of 500,
 * each carrying its index in the metadata.
 */
export async function appendProgress(store: EventStore, runId: string, count: number, bytes = 10) {
  const message = "x".repeat(bytes);
  for (let done = 0; done < count; done += 500) {
    await store.appendToStream(
      runStreamName(runId),
      Array.from({ length: Math.min(500, count - done) }, (_, offset) => ({
        id: randomUUID(),
        type: "StepProgressed",
        data: { stepId: "work", attempt: 1, progress: null, message, at: new Date().toISOString() },
        occurredAt: new Date(),
        metadata: { index: done + offset },
      })),
    );
  }
}
