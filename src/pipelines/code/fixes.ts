import type { Edit } from "./edits.js";
import type { Issue } from "./issues.js";

/** Where more than one fix makes sense, the person running the pipeline chooses (one alternative each). */
export type FixChoices = {
  varKeyword: "const-when-safe" | "let";
  nullChecks: "strict" | "keep-loose";
  consoleCalls: "remove" | "keep";
};
export type ChoiceKey = keyof FixChoices;

export const DEFAULT_CHOICES: FixChoices = {
  varKeyword: "const-when-safe",
  nullChecks: "strict",
  consoleCalls: "remove",
};

const OPTIONS: { [Key in ChoiceKey]: { value: FixChoices[Key]; label: string }[] } = {
  varKeyword: [
    { value: "const-when-safe", label: "var → const where never reassigned, let elsewhere" },
    { value: "let", label: "var → let everywhere" },
  ],
  nullChecks: [
    { value: "strict", label: "make every comparison strict, == null included" },
    { value: "keep-loose", label: "strict comparisons, but keep the x == null idiom" },
  ],
  consoleCalls: [
    { value: "remove", label: "remove console calls" },
    { value: "keep", label: "keep console calls" },
  ],
};

/** The change a fix makes, or null when the issue is left as it is under these choices. */
export function fixFor(issue: Issue, choices: FixChoices): { edit: Edit; change: string } | null {
  const { start, end } = issue;
  if (!issue.fixable) return null;
  switch (issue.rule) {
    case "trailing-whitespace":
      return { edit: { start, end, replacement: "" }, change: "remove trailing whitespace" };
    case "missing-final-newline":
      return { edit: { start, end, replacement: issue.detail ?? "\n" }, change: "add final newline" };
    case "var-declaration": {
      const keyword = issue.constSafe && choices.varKeyword === "const-when-safe" ? "const" : "let";
      return { edit: { start, end, replacement: keyword }, change: `var → ${keyword}` };
    }
    case "loose-equality": {
      if (issue.nullCheck && choices.nullChecks === "keep-loose") return null;
      const operator = issue.detail ?? "==";
      return { edit: { start, end, replacement: `${operator}=` }, change: `${operator} → ${operator}=` };
    }
    case "console-call":
      if (choices.consoleCalls === "keep") return null;
      return { edit: { start, end, replacement: "" }, change: "remove console call" };
    case "debugger-statement":
      return { edit: { start, end, replacement: "" }, change: "remove debugger statement" };
    case "todo-marker":
    case "syntax-error":
      return null;
    default: {
      const unknown: never = issue.rule;
      return unknown;
    }
  }
}

/** The choices whose options lead to different fixes for these issues. */
export function choicePoints(issues: Issue[]): ChoiceKey[] {
  const keys: ChoiceKey[] = [];
  const fixable = issues.filter((found) => found.fixable);
  if (fixable.some((found) => found.rule === "var-declaration" && found.constSafe)) keys.push("varKeyword");
  if (fixable.some((found) => found.rule === "loose-equality" && found.nullCheck)) keys.push("nullChecks");
  if (fixable.some((found) => found.rule === "console-call")) keys.push("consoleCalls");
  return keys;
}

/** Every combination of the options of `keys`, the recommended one (first options) first. */
export function choiceCombinations(keys: ChoiceKey[]): { choices: FixChoices; labels: string[] }[] {
  let combinations = [{ choices: { ...DEFAULT_CHOICES }, labels: [] as string[] }];
  for (const key of keys) {
    combinations = combinations.flatMap((combination) =>
      OPTIONS[key].map((option) => ({
        choices: { ...combination.choices, [key]: option.value },
        labels: [...combination.labels, option.label],
      })),
    );
  }
  return combinations;
}

export function isFixChoices(value: unknown): value is FixChoices {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (Object.keys(OPTIONS) as ChoiceKey[]).every((key) =>
    OPTIONS[key].some((option) => option.value === candidate[key]),
  );
}
