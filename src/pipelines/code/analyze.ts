import type { SourceFile } from "./code-input.js";
import type { Issue, RuleId } from "./issues.js";
import {
  findConsoleCalls,
  findDebuggerStatements,
  findLooseEquality,
  findVarDeclarations,
} from "./script-rules.js";
import { isScript, type ScannedSource, scanSource } from "./source-scanner.js";
import { findMissingFinalNewline, findTodoMarkers, findTrailingWhitespace } from "./text-rules.js";

type Rule = { id: RuleId; scriptsOnly: boolean; find(path: string, source: ScannedSource): Issue[] };

const RULES: Record<RuleId, Rule> = {
  "trailing-whitespace": { id: "trailing-whitespace", scriptsOnly: false, find: findTrailingWhitespace },
  "missing-final-newline": { id: "missing-final-newline", scriptsOnly: false, find: findMissingFinalNewline },
  "var-declaration": { id: "var-declaration", scriptsOnly: true, find: findVarDeclarations },
  "todo-marker": {
    id: "todo-marker",
    scriptsOnly: false,
    find: (path, source) => findTodoMarkers(path, source, isScript(path)),
  },
  "loose-equality": { id: "loose-equality", scriptsOnly: true, find: findLooseEquality },
  "console-call": { id: "console-call", scriptsOnly: true, find: findConsoleCalls },
  "debugger-statement": { id: "debugger-statement", scriptsOnly: true, find: findDebuggerStatements },
};

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

export function analyzeFile(file: SourceFile, rules: RuleId[]): Issue[] {
  const script = isScript(file.path);
  const source = scanSource(file.path, file.content);
  return rules
    .map((id) => RULES[id])
    .filter((rule) => script || !rule.scriptsOnly)
    .flatMap((rule) => rule.find(file.path, source))
    .sort((a, b) => a.start - b.start);
}

export const analyzeFiles = (files: SourceFile[], rules: RuleId[]): Issue[] =>
  files.flatMap((file) => analyzeFile(file, rules));

export function countByRule(issues: Issue[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const found of issues) counts[found.rule] = (counts[found.rule] ?? 0) + 1;
  return counts;
}
