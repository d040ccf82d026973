import { PipelineRegistry } from "./registry.js";

// Placeholder until the autofix and refactor pipelines land (issue 6).
export function defaultPipelines(): PipelineRegistry {
  return new PipelineRegistry();
}
