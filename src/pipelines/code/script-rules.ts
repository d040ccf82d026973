import { type Issue, issue } from "./issues.js";
import { lineAt, lineStarts, type ScannedSource } from "./source-scanner.js";

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const escapeRegExp = (text: string): string => text.replace(/[$]/g, "\\$");

/**
 * End of a `var` declaration in masked code: the first `;` or unbalanced `)` (a for-loop header) at
 * its own depth, or a line break where the statement cannot continue (automatic semicolon insertion).
 */
function declarationEnd(code: string, from: number): number {
  let depth = 0;
  for (let i = from; i < code.length; i++) {
    const char = code[i];
    if (char === "(" || char === "[" || char === "{") depth++;
    else if (char === ")" || char === "]" || char === "}") {
      if (depth === 0) return i;
      depth--;
    } else if (char === ";" && depth === 0) return i;
    else if (char === "\n" && depth === 0) {
      const before = code.slice(from, i).trimEnd();
      const after = code.slice(i + 1).trimStart();
      if (!/[,=+\-*/&|?:]$/.test(before) && !/^[,=+\-*/&|?:.]/.test(after)) return i;
    }
  }
  return code.length;
}

/** Splits at commas that are not nested in brackets. */
function topLevelParts(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of text) {
    if ("([{".includes(char)) depth++;
    if (")]}".includes(char)) depth--;
    if (char === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += char;
  }
  parts.push(current);
  return parts;
}

/** Whether `name` is assigned, updated or incremented anywhere outside [skipStart, skipEnd). */
function isReassigned(code: string, name: string, skipStart: number, skipEnd: number): boolean {
  const n = escapeRegExp(name);
  const patterns = [
    new RegExp(`(?<![\\w$.])${n}\\s*(?:[-+*/%&|^]|\\*\\*|<<|>>>?|&&|\\|\\||\\?\\?)?=(?![=>])`, "g"),
    new RegExp(`(?:\\+\\+|--)\\s*${n}(?![\\w$])`, "g"),
    new RegExp(`(?<![\\w$.])${n}\\s*(?:\\+\\+|--)`, "g"),
  ];
  return patterns.some((pattern) =>
    [...code.matchAll(pattern)].some((match) => match.index < skipStart || match.index >= skipEnd),
  );
}

interface Declarator {
  name: string | null;
  initialised: boolean;
}

function declarators(declaration: string): Declarator[] {
  const loop = /^\s*([A-Za-z_$][\w$]*)\s+(?:in|of)\b/.exec(declaration);
  if (loop) return [{ name: loop[1] ?? null, initialised: true }];
  return topLevelParts(declaration).map((part) => {
    const [left = "", ...rest] = part.split(/=(?![=>])/);
    const name = left.trim();
    return { name: IDENTIFIER.test(name) ? name : null, initialised: rest.length > 0 };
  });
}

/** `var` declarations; `const` is offered only when every declared name is initialised and never reassigned. */
export function findVarDeclarations(path: string, source: ScannedSource): Issue[] {
  const { code } = source;
  const starts = lineStarts(code);
  const found: Issue[] = [];
  for (const match of code.matchAll(/(?<![\w$.])var(?=\s)/g)) {
    const start = match.index;
    const end = declarationEnd(code, start + 3);
    const parts = declarators(code.slice(start + 3, end));
    const names = parts.map((part) => part.name).filter((name): name is string => name !== null);
    const constSafe =
      parts.every((part) => part.name !== null && part.initialised) &&
      names.every((name) => !isReassigned(code, name, start, end));
    found.push(
      issue({
        rule: "var-declaration",
        path,
        line: lineAt(starts, start),
        message: `var declaration of ${names.length > 0 ? names.join(", ") : "a destructured binding"}`,
        start,
        end: start + 3,
        detail: names.join(","),
        constSafe,
      }),
    );
  }
  return found;
}

/** `==` and `!=`; a comparison with null/undefined is flagged, since `x == null` is a common idiom. */
export function findLooseEquality(path: string, source: ScannedSource): Issue[] {
  const { code } = source;
  const starts = lineStarts(code);
  const found: Issue[] = [];
  for (const match of code.matchAll(/(?<![=!<>])(==|!=)(?!=)/g)) {
    const start = match.index;
    const operator = match[1] ?? "==";
    const nullCheck =
      /^\s*(?:null|undefined)(?![\w$])/.test(code.slice(start + 2, start + 30)) ||
      /(?<![\w$.])(?:null|undefined)\s*$/.test(code.slice(Math.max(0, start - 30), start));
    found.push(
      issue({
        rule: "loose-equality",
        path,
        line: lineAt(starts, start),
        message: `loose comparison ${operator}${nullCheck ? " with null/undefined" : ""}`,
        start,
        end: start + 2,
        detail: operator,
        nullCheck,
      }),
    );
  }
  return found;
}

/** Whole-line statements matching `pattern` in masked code; the issue covers the line and its newline. */
function wholeLineStatements(
  path: string,
  source: ScannedSource,
  pattern: RegExp,
  rule: Issue["rule"],
  message: (line: string) => string,
): Issue[] {
  const found: Issue[] = [];
  const lines = source.code.split("\n");
  let offset = 0;
  for (const [index, line] of lines.entries()) {
    const opens = line.split("(").length;
    if (pattern.test(line) && opens === line.split(")").length) {
      const end = Math.min(offset + line.length + 1, source.text.length);
      found.push(issue({ rule, path, line: index + 1, message: message(line.trim()), start: offset, end }));
    }
    offset += line.length + 1;
  }
  return found;
}

export const findConsoleCalls = (path: string, source: ScannedSource): Issue[] =>
  wholeLineStatements(
    path,
    source,
    /^\s*console\.(?:log|debug|info|warn|error|trace|dir)\s*\(.*\)\s*;?\s*$/,
    "console-call",
    (line) => `console call: ${line.slice(0, line.indexOf("(")) || line}`,
  );

export const findDebuggerStatements = (path: string, source: ScannedSource): Issue[] =>
  wholeLineStatements(
    path,
    source,
    /^\s*debugger\s*;?\s*$/,
    "debugger-statement",
    () => "debugger statement",
  );
