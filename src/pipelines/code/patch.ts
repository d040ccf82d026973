import type { SourceFile } from "./code-input.js";
import { applyEdits, type Edit } from "./edits.js";
import { type FixChoices, fixFor } from "./fixes.js";
import type { Issue } from "./issues.js";
import { scriptKind } from "./languages.js";
import { parseProblem } from "./lint.js";

export type PatchedFile = { path: string; content: string; changed: boolean; fixesApplied: number };
export type UnfixedIssue = { path: string; line: number; rule: string; message: string };

export interface PatchResult {
  files: PatchedFile[];
  applied: number;
  /** Fixes that overlapped another fix of the same file (e.g. a comparison inside a removed line). */
  skipped: number;
  /** Issues no fix addresses under these choices (TODO markers, kept idioms), for a person to look at. */
  unfixed: UnfixedIssue[];
}

/** Applies the fixes of `choices` for `issues` to the original files. */
export function patchFiles(files: SourceFile[], issues: Issue[], choices: FixChoices): PatchResult {
  const unfixed: UnfixedIssue[] = [];
  const editsByPath = new Map<string, Edit[]>();
  for (const found of issues) {
    const fix = fixFor(found, choices);
    if (!fix) {
      unfixed.push({ path: found.path, line: found.line, rule: found.rule, message: found.message });
      continue;
    }
    editsByPath.set(found.path, [...(editsByPath.get(found.path) ?? []), fix.edit]);
  }
  let applied = 0;
  let skipped = 0;
  const patched = files.map((file) => {
    const edits = editsByPath.get(file.path) ?? [];
    const result = applyEdits(file.content, edits);
    // Last line of defence: a fix that would leave a script that no longer parses is not applied.
    const kind = scriptKind(file.path);
    const problem = kind && edits.length > 0 ? parseProblem(result.text, kind) : null;
    if (problem) {
      unfixed.push({
        path: file.path,
        line: 0,
        rule: "syntax-error",
        message: `fixes not applied: ${problem}`,
      });
      skipped += edits.length;
      return { path: file.path, content: file.content, changed: false, fixesApplied: 0 };
    }
    applied += result.applied.length;
    skipped += result.skipped.length;
    return {
      path: file.path,
      content: result.text,
      changed: result.text !== file.content,
      fixesApplied: result.applied.length,
    };
  });
  return { files: patched, applied, skipped, unfixed };
}
