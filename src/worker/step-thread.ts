import { parentPort, workerData } from "node:worker_threads";
import type { PipelineDefinition, StepResult } from "../pipelines/pipeline.js";
import type { Json } from "../shared/json.js";
import type { StepTask, ThreadMessage } from "./step-thread-protocol.js";

/**
 * Entry of a step executor thread: runs one step at a time of a pipeline rebuilt from its module,
 * and reports progress and the result to the worker. The worker stops a thread by terminating it
 * (cancellation, lost lease, time budget), so nothing here needs to watch for an abort.
 */

const port = parentPort;
if (!port) throw new Error("step-thread.ts runs only as a worker thread");
const post = (message: ThreadMessage): void => port.postMessage(message);
const definitions = new Map<string, Promise<PipelineDefinition>>();

async function load(task: StepTask): Promise<PipelineDefinition> {
  const key = `${task.module.url}#${task.module.factory}`;
  let loading = definitions.get(key);
  if (!loading) {
    loading = import(task.module.url).then((exported: Record<string, unknown>) => {
      const factory = exported[task.module.factory];
      if (typeof factory !== "function") throw new Error(`${key} exports no pipeline factory`);
      return factory() as PipelineDefinition;
    });
    definitions.set(key, loading);
  }
  return loading;
}

async function run(task: StepTask): Promise<StepResult> {
  const step = (await load(task)).steps.find((candidate) => candidate.id === task.stepId);
  if (!step) throw new Error(`pipeline module ${task.module.factory} has no step ${task.stepId}`);
  return step.run({
    runId: task.runId,
    input: task.input,
    outputs: task.outputs,
    attempt: task.attempt,
    signal: new AbortController().signal,
    reportProgress: async (progress: number | null, message?: string) =>
      post({ type: "progress", progress, message: message ?? null }),
    limits: task.limits,
  });
}

// Warm the module cache with the worker's pipeline modules while no step is waiting yet.
const preload: string[] = Array.isArray(workerData?.preload) ? workerData.preload : [];
for (const url of preload) void import(url).catch(() => undefined);

port.on("message", (task: StepTask) => {
  run(task).then(
    (result) => post({ type: "done", result: result as unknown as Json }),
    (error: unknown) =>
      post({ type: "failed", error: error instanceof Error ? error.message || error.name : String(error) }),
  );
});
