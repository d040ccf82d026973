import type { PipelineDefinition } from "./pipeline.js";

/** Pipelines are defined in code and looked up by name. */
export class PipelineRegistry {
  private readonly pipelines = new Map<string, PipelineDefinition>();

  constructor(definitions: PipelineDefinition[] = []) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: PipelineDefinition): this {
    if (this.pipelines.has(definition.name))
      throw new Error(`pipeline ${definition.name} is registered twice`);
    const ids = definition.steps.map((step) => step.id);
    if (new Set(ids).size !== ids.length) throw new Error(`pipeline ${definition.name} repeats a step id`);
    this.pipelines.set(definition.name, definition);
    return this;
  }

  get(name: string): PipelineDefinition | undefined {
    return this.pipelines.get(name);
  }

  list(): PipelineDefinition[] {
    return [...this.pipelines.values()];
  }
}
