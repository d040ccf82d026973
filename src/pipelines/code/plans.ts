import { choiceCombinations, choicePoints, type FixChoices, fixFor } from "./fixes.js";
import type { Issue } from "./issues.js";

export type PlannedFix = { path: string; line: number; rule: string; change: string };

/** One way of fixing the issues; a person picks one when there is more than one. */
export type FixPlan = {
  label: string;
  choices: FixChoices;
  fixCount: number;
  fixes: PlannedFix[];
  /** The attempt of the step that generated the plan (a retried step generates new plans). */
  attempt: number;
};

export function planFixes(issues: Issue[], choices: FixChoices): PlannedFix[] {
  return issues.flatMap((found) => {
    const fix = fixFor(found, choices);
    return fix ? [{ path: found.path, line: found.line, rule: found.rule, change: fix.change }] : [];
  });
}

/** One plan per meaningful combination of choices; a single plan when no choice changes anything. */
export function buildPlans(issues: Issue[], attempt: number): FixPlan[] {
  return choiceCombinations(choicePoints(issues)).map(({ choices, labels }) => {
    const fixes = planFixes(issues, choices);
    return {
      label: labels.length > 0 ? labels.join("; ") : "apply every automatic fix",
      choices,
      fixCount: fixes.length,
      fixes,
      attempt,
    };
  });
}
