import type { Json } from "../../shared/json.js";

export interface SourceFile {
  path: string;
  content: string;
}

/** Input of the code pipelines: the files to work on, and a knob that makes each step slow (for tests). */
export interface CodeInput {
  files: SourceFile[];
  delayMs: number;
}

export const MAX_FILES = 500;
export const MAX_PATH_LENGTH = 500;
/**
 * Most text a run may hand the parser, in UTF-8 bytes of all file contents together, and per file:
 * analysis is linear in it, and each step runs in a thread with a time and heap budget, but a bound
 * here refuses an oversized run at startRun instead of failing it later.
 */
export const MAX_TOTAL_CONTENT_BYTES = 2_000_000;
export const MAX_FILE_LINES = 100_000;
/** Upper bound of the delay knob, so a typo cannot park a worker for hours. */
export const MAX_DELAY_MS = 600_000;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function countLines(text: string): number {
  let lines = 1;
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) lines++;
  return lines;
}

function fileProblem(file: unknown, index: number, seen: Set<string>): string | null {
  if (!isObject(file)) return `files[${index}] must be an object { path, content }`;
  const { path, content } = file;
  if (typeof path !== "string" || path.trim() === "")
    return `files[${index}].path must be a non-empty string`;
  if (path.length > MAX_PATH_LENGTH)
    return `files[${index}].path is longer than ${MAX_PATH_LENGTH} characters`;
  if (typeof content !== "string") return `files[${index}].content must be a string`;
  const lines = countLines(content);
  if (lines > MAX_FILE_LINES)
    return `files[${index}].content has ${lines} lines; at most ${MAX_FILE_LINES} are accepted`;
  if (seen.has(path)) return `files[${index}].path ${JSON.stringify(path)} appears more than once`;
  seen.add(path);
  return null;
}

/** What is wrong with `input` as a code pipeline input, or null when it is fine. */
export function codeInputProblem(input: Json): string | null {
  if (!isObject(input)) return 'input must be an object: { "files": [{ "path", "content" }], "delayMs"? }';
  const { files, delayMs } = input;
  if (!Array.isArray(files)) return "input.files must be an array of { path, content }";
  if (files.length === 0) return "input.files must hold at least one file";
  if (files.length > MAX_FILES)
    return `input.files holds ${files.length} files; at most ${MAX_FILES} are accepted`;
  const seen = new Set<string>();
  for (const [index, file] of files.entries()) {
    const problem = fileProblem(file, index, seen);
    if (problem) return `input.${problem}`;
  }
  let bytes = 0;
  for (const file of files as unknown as SourceFile[]) bytes += Buffer.byteLength(file.content, "utf8");
  if (bytes > MAX_TOTAL_CONTENT_BYTES)
    return `input.files hold ${bytes} bytes of content; at most ${MAX_TOTAL_CONTENT_BYTES} are accepted`;
  if (delayMs !== undefined && delayMs !== null) {
    if (typeof delayMs !== "number" || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
      return `input.delayMs must be an integer from 0 to ${MAX_DELAY_MS}`;
    }
  }
  const unknown = Object.keys(input).filter((key) => key !== "files" && key !== "delayMs");
  if (unknown.length > 0) return `input has unknown fields: ${unknown.join(", ")}`;
  return null;
}

/** The typed input; throws with the same message as codeInputProblem (a step then fails with it). */
export function parseCodeInput(input: Json): CodeInput {
  const problem = codeInputProblem(input);
  if (problem) throw new Error(problem);
  const value = input as unknown as { files: SourceFile[]; delayMs?: number | null };
  return {
    files: value.files.map(({ path, content }) => ({ path, content })),
    delayMs: value.delayMs ?? 0,
  };
}
