import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { type AppContext, openAppContext } from "../../src/app/app-context.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/config/logger.js";
import type { EventStore, StoredEvent } from "../../src/event-store/event-store.js";
import type { PipelineDefinition } from "../../src/pipelines/pipeline.js";
import { PipelineRegistry } from "../../src/pipelines/registry.js";
import { runStreamName } from "../../src/runs/events.js";
import { executeRunCommand } from "../../src/runs/execute.js";
import { evolveStored, initialState, type Run } from "../../src/runs/state.js";
import { newId } from "../../src/shared/ids.js";
import type { Json } from "../../src/shared/json.js";

/** An AppContext on `databaseUrl` as a worker process builds it, with projections running. */
export async function openTestContext(
  databaseUrl: string,
  env: Record<string, string> = {},
  pipelines?: PipelineDefinition[],
): Promise<AppContext> {
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
    ...env,
    DATABASE_URL: databaseUrl,
  });
  const opened = await openAppContext(config, createLogger(config.LOG_LEVEL, "test-worker"));
  const ctx = pipelines ? { ...opened, pipelines: new PipelineRegistry(pipelines) } : opened;
  ctx.projections.start();
  return ctx;
}

/** Starts a run the way the API does: StartRun through the one command path. */
export async function startRun(
  store: EventStore,
  pipelines: PipelineRegistry,
  pipeline: string,
  input: Json,
): Promise<string> {
  const definition = pipelines.get(pipeline);
  assert.ok(definition, `pipeline ${pipeline} exists`);
  assert.equal(definition.validateInput(input), null);
  const runId = newId();
  await executeRunCommand(store, {
    type: "StartRun",
    runId,
    now: new Date().toISOString(),
    workspaceId: "test",
    pipeline,
    steps: definition.steps.map(({ id, name }) => ({ id, name })),
    input,
    idempotencyKey: null,
  });
  return runId;
}

export async function readRun(
  store: EventStore,
  runId: string,
): Promise<{ run: Run; events: StoredEvent[] }> {
  const events = await store.readStream(runStreamName(runId));
  const state = evolveStored(initialState(), events);
  assert.ok(state.exists, `run ${runId} exists`);
  return { run: state, events };
}

/** Polls the run's stream until `done` holds; fails with the last state after `timeoutMs`. */
export async function waitForRun(
  store: EventStore,
  runId: string,
  done: (run: Run, events: StoredEvent[]) => boolean,
  timeoutMs = 15_000,
): Promise<{ run: Run; events: StoredEvent[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await readRun(store, runId);
    if (done(current.run, current.events)) return current;
    if (Date.now() > deadline) {
      assert.fail(
        `run ${runId} did not get there in ${timeoutMs} ms: ${current.run.status}, events ${current.events.map((event) => event.type).join(",")}`,
      );
    }
    await sleep(25);
  }
}

export const eventsOf = (events: StoredEvent[], type: string): StoredEvent[] =>
  events.filter((event) => event.type === type);
