import { autofixPipeline } from "./autofix-pipeline.js";
import { refactorPipeline } from "./refactor-pipeline.js";
import { PipelineRegistry } from "./registry.js";

/** The pipelines every runstream process knows (API and workers must agree on them). */
export function defaultPipelines(): PipelineRegistry {
  return new PipelineRegistry([autofixPipeline(), refactorPipeline()]);
}
