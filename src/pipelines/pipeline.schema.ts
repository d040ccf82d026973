import { builder } from "../api/builder.js";
import type { PipelineDefinition, PipelineStepDefinition } from "./pipeline.js";

/** The pipelines defined in code (the registry), with the steps a run of each goes through. */

const PipelineStepRef = builder.objectRef<PipelineStepDefinition>("PipelineStep").implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
  }),
});

const PipelineRef = builder.objectRef<PipelineDefinition>("Pipeline").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    steps: t.field({ type: [PipelineStepRef], resolve: (pipeline) => pipeline.steps }),
  }),
});

builder.queryField("pipelines", (t) =>
  t.field({ type: [PipelineRef], resolve: (_root, _args, ctx) => ctx.app.pipelines.list() }),
);
