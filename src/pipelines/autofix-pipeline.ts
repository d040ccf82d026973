import { AUTOFIX_RULES } from "./code/analyze.js";
import { codeInputProblem } from "./code/code-input.js";
import { analyzeStep, applyStep, generateStep, scanStep } from "./code/code-steps.js";
import type { PipelineDefinition } from "./pipeline.js";

/** Cleans up source hygiene: trailing whitespace, missing final newlines, `var`; reports TODO markers. */
export const autofixPipeline = (): PipelineDefinition => ({
  name: "autofix",
  description:
    "Finds trailing whitespace, missing final newlines, var declarations and TODO markers, and patches the files",
  steps: [
    scanStep(),
    analyzeStep(AUTOFIX_RULES),
    generateStep("generate", "Generate fixes"),
    applyStep("apply", "Apply fixes", "generate"),
  ],
  validateInput: codeInputProblem,
  module: { url: import.meta.url, factory: "autofixPipeline" },
});
