/** Which files the code pipelines parse as programs, and how. Any other file gets the text rules only. */
export type ScriptKind = { typescript: boolean; jsx: boolean; sourceType: "module" | "commonjs" };

const KINDS: Record<string, ScriptKind> = {
  ".js": { typescript: false, jsx: true, sourceType: "module" },
  ".mjs": { typescript: false, jsx: false, sourceType: "module" },
  ".cjs": { typescript: false, jsx: false, sourceType: "commonjs" },
  ".jsx": { typescript: false, jsx: true, sourceType: "module" },
  ".ts": { typescript: true, jsx: false, sourceType: "module" },
  ".mts": { typescript: true, jsx: false, sourceType: "module" },
  ".cts": { typescript: true, jsx: false, sourceType: "commonjs" },
  ".tsx": { typescript: true, jsx: true, sourceType: "module" },
};

const extensionOf = (path: string): string => {
  const dot = path.lastIndexOf(".");
  return dot >= 0 ? path.slice(dot).toLowerCase() : "";
};

export const scriptKind = (path: string): ScriptKind | null => KINDS[extensionOf(path)] ?? null;

export const isScript = (path: string): boolean => scriptKind(path) !== null;
