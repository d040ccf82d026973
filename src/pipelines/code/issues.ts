/** What the analysis finds. Offsets refer to the file's original content (the run's input). */
export type RuleId =
  | "trailing-whitespace"
  | "missing-final-newline"
  | "var-declaration"
  | "todo-marker"
  | "loose-equality"
  | "console-call"
  | "debugger-statement"
  | "syntax-error";

export type Issue = {
  rule: RuleId;
  path: string;
  line: number;
  message: string;
  /** The text a fix replaces: [start, end). */
  start: number;
  end: number;
  /**
   * Rule-specific: the declared names (var), the comment text (todo), the operator (loose equality),
   * the line ending to add (final newline); null otherwise.
   */
  detail: string | null;
  /** var-declaration: `const` would be correct (initialised and never reassigned, scope analysis). */
  constSafe: boolean | null;
  /** loose-equality: compares with null/undefined, where `== null` is a deliberate idiom. */
  nullCheck: boolean | null;
  /**
   * Whether the automatic fix keeps the program's meaning (e.g. `var` → `let` is not when the
   * variable is used before its declaration or redeclared); unfixable issues are listed, not patched.
   */
  fixable: boolean;
};

export const issue = (
  fields: Pick<Issue, "rule" | "path" | "line" | "message" | "start" | "end"> & Partial<Issue>,
): Issue => ({ detail: null, constSafe: null, nullCheck: null, fixable: true, ...fields });
