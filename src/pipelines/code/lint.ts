import { createRequire } from "node:module";
import { type ESLint, Linter, type Rule, type SourceCode } from "eslint";
import type { ScriptKind } from "./languages.js";
import { type VarSafety, varSafety } from "./var-safety.js";

/**
 * Parses a script with ESLint's Linter (espree, or typescript-eslint's parser for TypeScript) and runs
 * the rules the code pipelines ship: ESLint's own `eqeqeq` and `no-console` (its removal suggestion
 * is the fix), plus small rules of ours that read the AST and scope analysis for what ESLint's rules
 * cannot say in a message (whether `var` may become `let` or `const`, null comparisons, removable
 * debugger statements). ESLint's `no-var` and `no-trailing-spaces` are not used: both are quadratic on
 * some files (a redeclared name; a line lookup per trailing space), and a run's input may be any file.
 */

export type VarFact = VarSafety & { start: number; end: number };
export type DebuggerFact = { start: number; end: number; removable: boolean };

export interface ScriptFacts {
  /** The parser's message when the file is not a valid program (then nothing else is known). */
  syntaxError: { message: string; line: number; column: number } | null;
  sourceCode: SourceCode | null;
  messages: Linter.LintMessage[];
  vars: VarFact[];
  debuggers: DebuggerFact[];
  /** Offsets of `==`/`!=` operators that compare with null or undefined. */
  nullComparisons: Set<number>;
}

/** Where our rules leave their findings during one (synchronous) verify call. */
let facts: ScriptFacts | null = null;
const collect = (): ScriptFacts => {
  if (!facts) throw new Error("runstream rules run only inside lintScript");
  return facts;
};

const isNullish = (node: Rule.Node | { type: string; value?: unknown; name?: string }): boolean =>
  (node.type === "Literal" && "value" in node && node.value === null) ||
  (node.type === "Identifier" && "name" in node && node.name === "undefined");

const rules: Record<string, Rule.RuleModule> = {
  "var-declaration": {
    meta: { type: "suggestion", schema: [] },
    create: (context) => ({
      VariableDeclaration(node) {
        if (node.kind !== "var") return;
        const keyword = context.sourceCode.getFirstToken(node);
        const [start, end] = keyword?.range ?? node.range ?? [0, 0];
        collect().vars.push({
          start,
          end,
          ...varSafety(node, context.sourceCode.getDeclaredVariables(node)),
        });
      },
    }),
  },
  "null-comparison": {
    meta: { type: "suggestion", schema: [] },
    create: (context) => ({
      BinaryExpression(node) {
        if (node.operator !== "==" && node.operator !== "!=") return;
        if (!isNullish(node.left) && !isNullish(node.right)) return;
        const operator = context.sourceCode.getTokenAfter(
          node.left,
          (token) => token.value === node.operator,
        );
        if (operator) collect().nullComparisons.add(operator.range[0]);
      },
    }),
  },
  "debugger-statement": {
    meta: { type: "suggestion", schema: [] },
    create: () => ({
      DebuggerStatement(node) {
        const [start, end] = node.range ?? [0, 0];
        const parent = node.parent?.type ?? "";
        const removable = ["Program", "BlockStatement", "StaticBlock", "SwitchCase"].includes(parent);
        collect().debuggers.push({ start, end, removable });
      },
    }),
  },
};

// typescript-eslint's parser loads TypeScript itself (megabytes of code): only once a .ts file comes.
const require = createRequire(import.meta.url);
let typescriptParser: Linter.Parser | null = null;
const loadTypescriptParser = (): Linter.Parser => {
  typescriptParser ??= require("@typescript-eslint/parser") as Linter.Parser;
  return typescriptParser;
};

const plugin: ESLint.Plugin = { meta: { name: "runstream" }, rules };
const linter = new Linter({ configType: "flat" });

const RULES: Linter.RulesRecord = {
  eqeqeq: ["error", "always"],
  "no-console": "error",
  "runstream/var-declaration": "error",
  "runstream/null-comparison": "error",
  "runstream/debugger-statement": "error",
};

function configFor(kind: ScriptKind): Linter.Config[] {
  return [
    {
      files: ["**/*.js", "**/*.jsx", "**/*.ts", "**/*.tsx"],
      plugins: { runstream: plugin },
      languageOptions: {
        ecmaVersion: "latest",
        sourceType: kind.sourceType,
        ...(kind.typescript ? { parser: loadTypescriptParser() } : {}),
        parserOptions: { ecmaFeatures: { jsx: kind.jsx } },
      },
      rules: RULES,
    },
  ];
}

/** A name the config matches, of the file's kind (the real path may be anything the user sent). */
const fileNameFor = (kind: ScriptKind): string =>
  `input.${kind.typescript ? "ts" : "js"}${kind.jsx ? "x" : ""}`;

export function lintScript(text: string, kind: ScriptKind): ScriptFacts {
  const found: ScriptFacts = {
    syntaxError: null,
    sourceCode: null,
    messages: [],
    vars: [],
    debuggers: [],
    nullComparisons: new Set(),
  };
  facts = found;
  try {
    const messages = linter.verify(text, configFor(kind), fileNameFor(kind));
    const fatal = messages.find((message) => message.fatal);
    if (fatal) {
      found.syntaxError = { message: fatal.message, line: fatal.line, column: fatal.column };
      return found;
    }
    found.messages = messages;
    found.sourceCode = linter.getSourceCode();
    return found;
  } finally {
    facts = null;
  }
}

/** Whether a script parses (used to check every patched file before it is handed out). */
export function parseProblem(text: string, kind: ScriptKind): string | null {
  const fatal = linter
    .verify(text, [{ ...configFor(kind)[0], rules: {} }], fileNameFor(kind))
    .find((message) => message.fatal);
  forgetLastParse();
  return fatal ? `line ${fatal.line}: ${fatal.message}` : null;
}

/**
 * The Linter keeps the last file's SourceCode (AST, tokens, scopes: hundreds of MB for a large file)
 * until the next verify; a reused step thread would hold it while idle. Parsing nothing lets it go.
 */
export function forgetLastParse(): void {
  linter.verify("", [{ rules: {} }], "empty.js");
}
