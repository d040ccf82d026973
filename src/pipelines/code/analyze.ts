import type { SourceFile } from "./code-input.js";
import type { Issue, RuleId } from "./issues.js";
import { scriptKind } from "./languages.js";
import { scriptIssues } from "./script-issues.js";
import { findMissingFinalNewline, findTodoMarkers, findTrailingWhitespace } from "./text-rules.js";

/** The rules each pipeline checks: autofix cleans up hygiene, refactor tightens code. */
export const AUTOFIX_RULES: RuleId[] = [
  "trailing-whitespace",
  "missing-final-newline",
  "var-declaration",
  "todo-marker",
];
export const REFACTOR_RULES: RuleId[] = [
  "loose-equality",
  "console-call",
  "debugger-statement",
  "todo-marker",
];

/** Rules any text file gets; the others need a program (a script that parses). */
function textIssues(file: SourceFile, rules: RuleId[]): Issue[] {
  const { path, content } = file;
  const whole = [{ start: 0, end: content.length }];
  return [
    ...(rules.includes("trailing-whitespace") ? findTrailingWhitespace(path, content) : []),
    ...(rules.includes("todo-marker") ? findTodoMarkers(path, content, whole) : []),
    ...(rules.includes("missing-final-newline") ? findMissingFinalNewline(path, content) : []),
  ];
}

/** Scripts are parsed (see lint.ts); any other file gets the text rules. Issues in file order. */
export function analyzeFile(file: SourceFile, rules: RuleId[]): Issue[] {
  const kind = scriptKind(file.path);
  const issues = kind ? scriptIssues(file.path, file.content, kind, rules) : textIssues(file, rules);
  return issues.sort((a, b) => a.start - b.start);
}

export const analyzeFiles = (files: SourceFile[], rules: RuleId[]): Issue[] =>
  files.flatMap((file) => analyzeFile(file, rules));

export function countByRule(issues: Issue[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const found of issues) counts[found.rule] = (counts[found.rule] ?? 0) + 1;
  return counts;
}
