import type { AST, Linter } from "eslint";
import { type Issue, issue, type RuleId } from "./issues.js";
import type { ScriptKind } from "./languages.js";
import { lineAt, lineStarts, wholeLines } from "./lines.js";
import { forgetLastParse, lintScript, type ScriptFacts } from "./lint.js";
import {
  findMissingFinalNewline,
  findTodoMarkers,
  findTrailingWhitespace,
  type Range,
} from "./text-rules.js";

/** The issues of one script, from its parse (see lint.ts); offsets are the original text's. */

type Found = { facts: ScriptFacts; path: string; text: string; starts: number[] };

const offsetOf = (found: Found, message: Linter.LintMessage): number =>
  found.facts.sourceCode?.getIndexFromLoc({ line: message.line, column: message.column - 1 }) ?? 0;

function varIssues({ facts, path, starts }: Found): Issue[] {
  return facts.vars.map((fact) =>
    issue({
      rule: "var-declaration",
      path,
      line: lineAt(starts, fact.start),
      message: `var declaration of ${fact.names.length > 0 ? fact.names.join(", ") : "no names"}${fact.letSafe ? "" : " (kept: let would change its meaning)"}`,
      start: fact.start,
      end: fact.end,
      detail: fact.names.join(","),
      constSafe: fact.constSafe,
      fixable: fact.letSafe,
    }),
  );
}

function looseEqualityIssues(found: Found): Issue[] {
  return found.facts.messages
    .filter((message) => message.ruleId === "eqeqeq")
    .map((message) => {
      const start = offsetOf(found, message);
      const operator = found.text.slice(start, start + 2);
      const nullCheck = found.facts.nullComparisons.has(start);
      return issue({
        rule: "loose-equality",
        path: found.path,
        line: message.line,
        message: `loose comparison ${operator}${nullCheck ? " with null/undefined" : ""}`,
        start,
        end: start + 2,
        detail: operator,
        nullCheck,
      });
    });
}

/** no-console's suggestion removes the statement; its whole line goes when it stands alone. */
function consoleIssues(found: Found): Issue[] {
  return found.facts.messages
    .filter((message) => message.ruleId === "no-console")
    .map((message) => {
      const callee = offsetOf(found, message);
      const end = found.facts.sourceCode?.getIndexFromLoc({
        line: message.endLine ?? message.line,
        column: (message.endColumn ?? message.column) - 1,
      });
      const removal = message.suggestions?.[0]?.fix.range;
      const range = removal ? wholeLines(found.text, removal[0], removal[1]) : { start: callee, end: callee };
      return issue({
        rule: "console-call",
        path: found.path,
        line: message.line,
        message: `console call: ${found.text.slice(callee, end ?? callee)}${removal ? "" : " (kept: not a statement of its own)"}`,
        ...range,
        fixable: removal !== undefined,
      });
    });
}

function debuggerIssues({ facts, path, text, starts }: Found): Issue[] {
  return facts.debuggers.map((fact) =>
    issue({
      rule: "debugger-statement",
      path,
      line: lineAt(starts, fact.start),
      message: `debugger statement${fact.removable ? "" : " (kept: the only statement of its branch)"}`,
      ...(fact.removable ? wholeLines(text, fact.start, fact.end) : { start: fact.start, end: fact.end }),
      fixable: fact.removable,
    }),
  );
}

const rangesOf = (tokens: AST.Token[], type: string): Range[] =>
  tokens.filter((token) => token.type === type).map(({ range: [start, end] }) => ({ start, end }));

const RULE_ISSUES: Record<RuleId, (found: Found) => Issue[]> = {
  "trailing-whitespace": ({ facts, path, text }) =>
    findTrailingWhitespace(path, text, rangesOf(facts.sourceCode?.ast.tokens ?? [], "Template")),
  "missing-final-newline": ({ path, text }) => findMissingFinalNewline(path, text),
  "var-declaration": varIssues,
  "todo-marker": ({ facts, path, text }) =>
    findTodoMarkers(
      path,
      text,
      (facts.sourceCode?.getAllComments() ?? []).map(({ range }) => ({
        start: range?.[0] ?? 0,
        end: range?.[1] ?? 0,
      })),
    ),
  "loose-equality": looseEqualityIssues,
  "console-call": consoleIssues,
  "debugger-statement": debuggerIssues,
  "syntax-error": () => [],
};

export function scriptIssues(path: string, text: string, kind: ScriptKind, rules: RuleId[]): Issue[] {
  const facts = lintScript(text, kind);
  const starts = lineStarts(text);
  if (facts.syntaxError) {
    const { message, line } = facts.syntaxError;
    const start = starts[line - 1] ?? 0;
    const error = issue({
      rule: "syntax-error",
      path,
      line,
      message: `not parsed: ${message}`,
      start,
      end: start,
      fixable: false,
    });
    // Without a parse nothing is known about the code; only the text-only rule still applies.
    return [error, ...(rules.includes("missing-final-newline") ? findMissingFinalNewline(path, text) : [])];
  }
  const found: Found = { facts, path, text, starts };
  try {
    return rules.flatMap((rule) => RULE_ISSUES[rule](found));
  } finally {
    forgetLastParse();
  }
}
