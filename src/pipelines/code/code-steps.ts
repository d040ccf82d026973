import type { Json } from "../../shared/json.js";
import { fitList } from "../output-limit.js";
import { pace } from "../pace.js";
import type { PipelineStepDefinition, StepContext, StepResult } from "../pipeline.js";
import { analyzeFiles, countByRule } from "./analyze.js";
import { parseCodeInput } from "./code-input.js";
import { isFixChoices } from "./fixes.js";
import type { Issue, RuleId } from "./issues.js";
import { isScript } from "./languages.js";
import { patchFiles } from "./patch.js";
import { buildPlans, type FixPlan, planFixes } from "./plans.js";

/** Steps shared by the code pipelines; each reads the run input and the outputs of earlier steps. */

const MAX_UNFIXED_LISTED = 200;

function outputOf(ctx: StepContext, stepId: string): Record<string, Json> {
  const output = ctx.outputs[stepId];
  if (typeof output !== "object" || output === null || Array.isArray(output)) {
    throw new Error(`step ${stepId} has no usable output`);
  }
  return output;
}

function issuesOf(ctx: StepContext, analyzeId: string): Issue[] {
  const { issues } = outputOf(ctx, analyzeId);
  if (!Array.isArray(issues)) throw new Error(`the output of step ${analyzeId} lists no issues`);
  return issues as Issue[];
}

function planOf(ctx: StepContext, planId: string): FixPlan {
  const plan = outputOf(ctx, planId);
  if (!isFixChoices(plan.choices)) throw new Error(`the output of step ${planId} is not a fix plan`);
  return plan as unknown as FixPlan;
}

export const scanStep = (): PipelineStepDefinition => ({
  id: "scan",
  name: "Scan files",
  async run(ctx) {
    const { files, delayMs } = parseCodeInput(ctx.input);
    await pace(ctx, delayMs, "scanning");
    const summaries = files.map((file) => ({
      path: file.path,
      kind: isScript(file.path) ? "script" : "text",
      lines: file.content === "" ? 0 : file.content.split("\n").length,
      bytes: Buffer.byteLength(file.content, "utf8"),
    }));
    const totals = {
      fileCount: files.length,
      totalLines: summaries.reduce((sum, file) => sum + file.lines, 0),
      totalBytes: summaries.reduce((sum, file) => sum + file.bytes, 0),
    };
    return fitList(
      summaries.length,
      ctx.limits.maxOutputBytes,
      (kept) => ({ ...totals, files: summaries.slice(0, kept), omittedFiles: summaries.length - kept }),
      "file summaries",
    );
  },
});

export const analyzeStep = (rules: RuleId[]): PipelineStepDefinition => ({
  id: "analyze",
  name: "Find issues",
  async run(ctx) {
    const { files, delayMs } = parseCodeInput(ctx.input);
    await pace(ctx, delayMs, "analyzing");
    const issues = analyzeFiles(files, rules);
    const summary = { issueCount: issues.length, byRule: countByRule(issues) };
    return fitList(
      issues.length,
      ctx.limits.maxOutputBytes,
      (kept) => ({ ...summary, issues: issues.slice(0, kept), omittedIssues: issues.length - kept }),
      "issues",
    );
  },
});

/** One plan, or alternatives when fixes can be made in more than one sensible way. */
export const generateStep = (id: string, name: string): PipelineStepDefinition => ({
  id,
  name,
  async run(ctx): Promise<StepResult> {
    const { delayMs } = parseCodeInput(ctx.input);
    const issues = issuesOf(ctx, "analyze");
    await pace(ctx, delayMs, "generating fixes");
    const plans = buildPlans(issues, ctx.attempt);
    // Alternatives share the budget; a plan's fix list is cut first (the choices it carries are what
    // the apply step uses, so a shortened list loses no fix).
    const budget = Math.floor(ctx.limits.maxOutputBytes / plans.length);
    const fitted = plans.map((plan) =>
      fitList(
        plan.fixes.length,
        budget,
        (kept) => ({ ...plan, fixes: plan.fixes.slice(0, kept), omittedFixes: plan.fixes.length - kept }),
        "listed fixes",
      ),
    );
    if (fitted.length === 1 && fitted[0]) return fitted[0];
    return { alternatives: fitted.map((plan) => plan.output) };
  },
});

export const applyStep = (id: string, name: string, planId: string): PipelineStepDefinition => ({
  id,
  name,
  async run(ctx) {
    const { files, delayMs } = parseCodeInput(ctx.input);
    const issues = issuesOf(ctx, "analyze");
    const plan = planOf(ctx, planId);
    await pace(ctx, delayMs, "applying fixes");
    const result = patchFiles(files, issues, plan.choices);
    const summary = {
      plan: plan.label,
      choices: plan.choices,
      applied: result.applied,
      skipped: result.skipped,
      changedFiles: result.files.filter((file) => file.changed).length,
      unfixedCount: result.unfixed.length,
      unfixed: result.unfixed.slice(0, MAX_UNFIXED_LISTED),
    };
    return fitList(
      result.files.length,
      ctx.limits.maxOutputBytes,
      (kept) => ({
        ...summary,
        files: result.files.map((file, index) => (index < kept ? file : { ...file, content: null })),
        omittedContents: result.files.length - kept,
      }),
      "patched file contents",
    );
  },
});

/** Re-analyses the patched files: under the chosen plan, nothing fixable may remain. */
export const verifyStep = (applyId: string, rules: RuleId[]): PipelineStepDefinition => ({
  id: "verify",
  name: "Verify result",
  async run(ctx) {
    const { delayMs } = parseCodeInput(ctx.input);
    const applied = outputOf(ctx, applyId);
    if (!Array.isArray(applied.files) || !isFixChoices(applied.choices)) {
      throw new Error(`the output of step ${applyId} holds no patched files`);
    }
    await pace(ctx, delayMs, "verifying");
    const patched = (applied.files as { path: string; content: string | null }[]).filter(
      (file): file is { path: string; content: string } => typeof file.content === "string",
    );
    const remaining = analyzeFiles(patched, rules);
    const stillFixable = planFixes(remaining, applied.choices);
    const output = {
      checkedFiles: patched.length,
      uncheckedFiles: applied.files.length - patched.length,
      remaining: countByRule(remaining),
      stillFixable: stillFixable.length,
      clean: stillFixable.length === 0,
    };
    return fitList(0, ctx.limits.maxOutputBytes, () => output, "items");
  },
});
