import type { PipelineModule } from "../pipelines/pipeline.js";
import type { Json } from "../shared/json.js";

/** What the worker sends a step executor thread: everything of a StepContext that is plain data. */
export interface StepTask {
  module: PipelineModule;
  stepId: string;
  runId: string;
  input: Json;
  outputs: Record<string, Json>;
  attempt: number;
  limits: { maxOutputBytes: number };
}

/** What a step executor thread sends back, in order: progress reports, then one done or failed. */
export type ThreadMessage =
  | { type: "progress"; progress: number | null; message: string | null }
  | { type: "done"; result: Json }
  | { type: "failed"; error: string };
