/**
 * A small lexer that tells code apart from strings, regular expressions and comments, so the rules can
 * run plain regular expressions over code without matching `var` inside a string or `==` in a comment.
 * It is a heuristic (no full parser), good enough for the rules we ship; a rule that cannot be sure
 * leaves the code alone.
 */
export type RegionKind = "string" | "comment" | "regex";

export interface Region {
  start: number;
  end: number;
  kind: RegionKind;
}

export interface ScannedSource {
  text: string;
  /** `text` with every string, regex and comment replaced by spaces (newlines kept): offsets match. */
  code: string;
  regions: Region[];
}

const SCRIPT_EXTENSIONS = new Set([".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"]);

export function isScript(path: string): boolean {
  const dot = path.lastIndexOf(".");
  return dot >= 0 && SCRIPT_EXTENSIONS.has(path.slice(dot).toLowerCase());
}

/** A `/` starts a regex literal after these characters (or keywords), and a division otherwise. */
const REGEX_PRECEDERS = new Set([
  "",
  "(",
  ",",
  "=",
  ":",
  "[",
  "!",
  "&",
  "|",
  "?",
  "{",
  "}",
  ";",
  "+",
  "-",
  "*",
  "%",
  "<",
  ">",
  "~",
  "^",
]);
const REGEX_KEYWORDS = /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|void|yield|await|delete|throw|new)$/;

function previousSignificant(text: string, index: number): { char: string; before: string } {
  let i = index - 1;
  while (i >= 0 && /\s/.test(text[i] ?? "")) i--;
  return { char: i >= 0 ? (text[i] ?? "") : "", before: text.slice(Math.max(0, i - 10), i + 1) };
}

function endOfQuoted(text: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < text.length) {
    const char = text[i];
    if (char === "\\") i += 2;
    else if (char === quote) return i + 1;
    else if (char === "\n" && quote !== "`") return i;
    else i++;
  }
  return text.length;
}

function endOfRegex(text: string, start: number): number {
  let inClass = false;
  for (let i = start + 1; i < text.length; i++) {
    const char = text[i];
    if (char === "\\") i++;
    else if (char === "\n") return i;
    else if (char === "[") inClass = true;
    else if (char === "]") inClass = false;
    else if (char === "/" && !inClass) {
      let end = i + 1;
      while (end < text.length && /[a-z]/i.test(text[end] ?? "")) end++;
      return end;
    }
  }
  return text.length;
}

function findRegions(text: string): Region[] {
  const regions: Region[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i] ?? "";
    const next = text[i + 1];
    let region: Region | null = null;
    if (char === "/" && next === "/") {
      const newline = text.indexOf("\n", i);
      region = { start: i, end: newline < 0 ? text.length : newline, kind: "comment" };
    } else if (char === "/" && next === "*") {
      const close = text.indexOf("*/", i + 2);
      region = { start: i, end: close < 0 ? text.length : close + 2, kind: "comment" };
    } else if (char === '"' || char === "'" || char === "`") {
      region = { start: i, end: endOfQuoted(text, i, char), kind: "string" };
    } else if (char === "/") {
      const previous = previousSignificant(text, i);
      if (REGEX_PRECEDERS.has(previous.char) || REGEX_KEYWORDS.test(previous.before)) {
        region = { start: i, end: endOfRegex(text, i), kind: "regex" };
      }
    }
    if (region) {
      regions.push(region);
      i = region.end;
    } else i++;
  }
  return regions;
}

function mask(text: string, regions: Region[]): string {
  const chars = text.split("");
  for (const region of regions) {
    for (let i = region.start; i < region.end; i++) if (chars[i] !== "\n") chars[i] = " ";
  }
  return chars.join("");
}

/** Scripts get their strings and comments masked; any other file is all "code" with no regions. */
export function scanSource(path: string, text: string): ScannedSource {
  if (!isScript(path)) return { text, code: text, regions: [] };
  const regions = findRegions(text);
  return { text, code: mask(text, regions), regions };
}

export function regionAt(source: ScannedSource, offset: number): Region | undefined {
  return source.regions.find((region) => offset >= region.start && offset < region.end);
}

/** Start offset of every line, for turning offsets into line numbers. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return starts;
}

/** 1-based line number of `offset`, given the result of lineStarts (binary search). */
export function lineAt(starts: number[], offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if ((starts[middle] ?? 0) <= offset) low = middle;
    else high = middle - 1;
  }
  return low + 1;
}
