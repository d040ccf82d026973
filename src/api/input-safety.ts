import { Kind, visit } from "graphql";
import type { Plugin } from "graphql-yoga";
import { publicError } from "./errors.js";

/** Deepest JSON (objects and lists) an argument or variable may have; pipelines' inputs need a few levels. */
export const MAX_INPUT_DEPTH = 64;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const badInput = (message: string) => publicError("BAD_USER_INPUT", message);

/**
 * Text PostgreSQL can store: no NUL character (text and jsonb refuse it) and no lone UTF-16 surrogate
 * (not Unicode; jsonb refuses its escape). The message says which.
 */
export function textProblem(text: string): string | null {
  if (text.includes("\u0000")) return "contains a NUL character (\\u0000)";
  if (LONE_SURROGATE.test(text)) return "contains a lone UTF-16 surrogate (not valid Unicode)";
  return null;
}

/**
 * The first problem of a JSON value (a variable's value): deeper than MAX_INPUT_DEPTH, or a string or
 * key that is not storable text. Walked with an explicit stack, so a 100,000-level value cannot
 * overflow the call stack here (JSON.stringify or a recursive walk would).
 */
export function jsonProblem(value: unknown): string | null {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (typeof current === "string") {
      const problem = textProblem(current);
      if (problem) return `a string ${problem}`;
    } else if (current !== null && typeof current === "object") {
      if (depth >= MAX_INPUT_DEPTH) return `nested deeper than ${MAX_INPUT_DEPTH} levels`;
      for (const [key, child] of Object.entries(current)) {
        const problem = Array.isArray(current) ? null : textProblem(key);
        if (problem) return `a key ${problem}`;
        stack.push({ value: child, depth: depth + 1 });
      }
    }
  }
  return null;
}

/** The first problem of the literal values written in the document itself (visit() is iterative). */
function literalProblem(document: Parameters<typeof visit>[0]): string | null {
  let depth = 0;
  let problem: string | null = null;
  const nest = {
    enter() {
      depth++;
      if (depth > MAX_INPUT_DEPTH)
        problem = `A value in the operation is nested deeper than ${MAX_INPUT_DEPTH} levels.`;
    },
    leave() {
      depth--;
    },
  };
  visit(document, {
    [Kind.OBJECT]: nest,
    [Kind.LIST]: nest,
    [Kind.STRING](node) {
      const text = textProblem(node.value);
      if (text) problem = `A string in the operation ${text}.`;
    },
  });
  return problem;
}

/**
 * Malformed input answers BAD_USER_INPUT and changes nothing: checked on every operation's variables
 * and literals before it executes (ids, strings and JSON alike), and a document too deeply nested for
 * the GraphQL parser is refused instead of overflowing its stack.
 */
export const useInputSafety = (): Plugin => {
  const check = (args: { document: Parameters<typeof visit>[0]; variableValues?: unknown }) => {
    const variables = (args.variableValues ?? {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(variables)) {
      const problem = jsonProblem(value);
      if (problem) return badInput(`Variable $${name}: ${problem}.`);
    }
    const problem = literalProblem(args.document);
    return problem ? badInput(problem) : null;
  };
  return {
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, options);
        } catch (error) {
          if (error instanceof RangeError) throw badInput("The document is nested too deeply to parse.");
          throw error;
        }
      });
    },
    onExecute({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
};
