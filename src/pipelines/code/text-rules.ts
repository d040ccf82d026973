import { type Issue, issue } from "./issues.js";
import { lineAt, lineStarts, regionAt, type ScannedSource } from "./source-scanner.js";

/** Spaces or tabs at the end of a line; never inside a string (that would change the program). */
export function findTrailingWhitespace(path: string, source: ScannedSource): Issue[] {
  const found: Issue[] = [];
  const pattern = /[ \t]+(?=\r?\n|\r?$)/g;
  const starts = lineStarts(source.text);
  for (const match of source.text.matchAll(pattern)) {
    const start = match.index;
    const region = regionAt(source, start);
    if (region && region.kind !== "comment") continue;
    found.push(
      issue({
        rule: "trailing-whitespace",
        path,
        line: lineAt(starts, start),
        message: `${match[0].length} trailing whitespace character(s)`,
        start,
        end: start + match[0].length,
      }),
    );
  }
  return found;
}

export function findMissingFinalNewline(path: string, source: ScannedSource): Issue[] {
  const { text } = source;
  if (text.length === 0 || text.endsWith("\n")) return [];
  return [
    issue({
      rule: "missing-final-newline",
      path,
      line: lineStarts(text).length,
      message: "file does not end with a newline",
      start: text.length,
      end: text.length,
      detail: text.includes("\r\n") ? "\r\n" : "\n",
    }),
  ];
}

/** TODO/FIXME/XXX/HACK markers: in comments of scripts, anywhere in other files. Reported, not fixed. */
export function findTodoMarkers(path: string, source: ScannedSource, isScript: boolean): Issue[] {
  const pattern = /\b(TODO|FIXME|XXX|HACK)\b:?[ \t]*([^\r\n]*)/g;
  const starts = lineStarts(source.text);
  const found: Issue[] = [];
  for (const match of source.text.matchAll(pattern)) {
    const start = match.index;
    if (isScript && regionAt(source, start)?.kind !== "comment") continue;
    const note = (match[2] ?? "").replace(/\*\/\s*$/, "").trim();
    found.push(
      issue({
        rule: "todo-marker",
        path,
        line: lineAt(starts, start),
        message: `${match[1]} marker${note ? `: ${note}` : ""}`,
        start,
        end: start + (match[1]?.length ?? 0),
        detail: note,
      }),
    );
  }
  return found;
}
