import { type Issue, issue } from "./issues.js";
import { lineAt, lineStarts } from "./lines.js";

/** Line-based rules over a file's text: every file gets them, scripts with the parser's say on where. */

/** A range of the text a rule must leave alone, or the only ranges where it looks (sorted, disjoint). */
export type Range = { start: number; end: number };

/** Walks sorted ranges alongside increasing offsets: linear over a whole file. */
function rangeCursor(ranges: Range[]): (offset: number) => boolean {
  let index = 0;
  return (offset) => {
    while (index < ranges.length && (ranges[index]?.end ?? 0) <= offset) index++;
    const range = ranges[index];
    return range !== undefined && range.start <= offset;
  };
}

/** Spaces or tabs at the end of a line, except inside `protected` ranges (template literals). */
export function findTrailingWhitespace(path: string, text: string, protectedRanges: Range[] = []): Issue[] {
  const found: Issue[] = [];
  const starts = lineStarts(text);
  const isProtected = rangeCursor(protectedRanges);
  for (const match of text.matchAll(/[ \t]+(?=\r?\n|\r?$)/g)) {
    const start = match.index;
    if (isProtected(start)) continue;
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

export function findMissingFinalNewline(path: string, text: string): Issue[] {
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

/** TODO/FIXME/XXX/HACK markers inside `ranges` (a script's comments; a whole text file). Reported, not fixed. */
export function findTodoMarkers(path: string, text: string, ranges: Range[]): Issue[] {
  const starts = lineStarts(text);
  const found: Issue[] = [];
  for (const range of ranges) {
    const slice = text.slice(range.start, range.end);
    for (const match of slice.matchAll(/\b(TODO|FIXME|XXX|HACK)\b:?[ \t]*([^\r\n]*)/g)) {
      const start = range.start + match.index;
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
  }
  return found;
}
