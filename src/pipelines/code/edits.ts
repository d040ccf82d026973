/** A replacement of text[start, end) in one file; offsets refer to the original text. */
export type Edit = { start: number; end: number; replacement: string };

/**
 * Applies edits to the original text. Overlapping edits cannot both apply: the one starting first
 * (the wider one on a tie, e.g. removing a whole line) wins and the other is reported as skipped.
 */
export function applyEdits(text: string, edits: Edit[]): { text: string; applied: Edit[]; skipped: Edit[] } {
  const ordered = [...edits].sort((a, b) => a.start - b.start || b.end - a.end);
  const applied: Edit[] = [];
  const skipped: Edit[] = [];
  let cursor = 0;
  let result = "";
  for (const edit of ordered) {
    if (edit.start < cursor || edit.end > text.length || edit.end < edit.start) {
      skipped.push(edit);
      continue;
    }
    result += text.slice(cursor, edit.start) + edit.replacement;
    cursor = edit.end;
    applied.push(edit);
  }
  return { text: result + text.slice(cursor), applied, skipped };
}
