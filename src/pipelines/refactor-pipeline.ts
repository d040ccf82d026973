import { REFACTOR_RULES } from "./code/analyze.js";
import { codeInputProblem } from "./code/code-input.js";
import { analyzeStep, applyStep, generateStep, scanStep, verifyStep } from "./code/code-steps.js";
import type { PipelineDefinition } from "./pipeline.js";

/** Tightens code: strict comparisons, no console or debugger statements; verifies the result. */
export const refactorPipeline = (): PipelineDefinition => ({
  name: "refactor",
  description:
    "Makes comparisons strict and removes console calls and debugger statements, then verifies the patched files",
  steps: [
    scanStep(),
    analyzeStep(REFACTOR_RULES),
    generateStep("plan", "Plan refactoring"),
    applyStep("apply", "Apply refactoring", "plan"),
    verifyStep("apply", REFACTOR_RULES),
  ],
  validateInput: codeInputProblem,
  module: { url: import.meta.url, factory: "refactorPipeline" },
});
