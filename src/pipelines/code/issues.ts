/** What the analysis finds. Offsets refer to the file's original content (the run's input). */
export type RuleId =
  | "trailing-whitespace"
  | "missing-final-newline"
  | "var-declaration"
  | "todo-marker"
  | "loose-equality"
  | "console-call"
  | "debugger-statement";

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
  /** var-declaration: `const` would be correct (initialised and never reassigned in the file). */
  constSafe: boolean | null;
  /** loose-equality: compares with null/undefined, where `== null` is a deliberate idiom. */
  nullCheck: boolean | null;
};

export const issue = (
  fields: Pick<Issue, "rule" | "path" | "line" | "message" | "start" | "end"> & Partial<Issue>,
): Issue => ({ detail: null, constSafe: null, nullCheck: null, ...fields });
