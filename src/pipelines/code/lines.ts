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

/**
 * [start, end) widened to its whole line(s) and the line break after, when nothing but whitespace
 * shares those lines with it: removing a statement then leaves no empty line behind.
 */
export function wholeLines(text: string, start: number, end: number): { start: number; end: number } {
  let lineStart = start;
  while (lineStart > 0 && (text[lineStart - 1] === " " || text[lineStart - 1] === "\t")) lineStart--;
  if (lineStart > 0 && text[lineStart - 1] !== "\n") return { start, end };
  let lineEnd = end;
  while (lineEnd < text.length && /[ \t\r]/.test(text[lineEnd] ?? "")) lineEnd++;
  if (lineEnd < text.length && text[lineEnd] !== "\n") return { start, end };
  return { start: lineStart, end: Math.min(text.length, lineEnd + 1) };
}
