import type { Rule, Scope } from "eslint";

/**
 * Whether a `var` declaration may become `let` or `const` without changing the program, from the
 * parser's scope analysis (the semantics of ESLint's no-var and prefer-const fixers). Every check
 * looks only at the references of the declaration's own variables, and a redeclared variable is
 * refused before its references are read, so a whole file costs time linear in its size.
 */

type Node = Rule.Node;
export type VarSafety = { names: string[]; letSafe: boolean; constSafe: boolean };

const LOOPS = new Set([
  "ForStatement",
  "ForInStatement",
  "ForOfStatement",
  "WhileStatement",
  "DoWhileStatement",
]);
const FUNCTIONS = new Set(["FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"]);
/** Where a `let` may stand as a statement of its own. */
const STATEMENT_LISTS = new Set(["Program", "BlockStatement", "StaticBlock", "SwitchCase", "TSModuleBlock"]);

const isForHead = (node: Node): boolean => {
  const parent = node.parent;
  if (!parent) return false;
  if (parent.type === "ForStatement") return parent.init === node;
  return (parent.type === "ForInStatement" || parent.type === "ForOfStatement") && parent.left === node;
};

/** The node a `let` at this place would be scoped to, or null where a `let` cannot stand. */
function blockOf(node: Node): Node | null {
  const parent = node.parent;
  if (!parent) return null;
  if (isForHead(node)) return parent;
  if (!STATEMENT_LISTS.has(parent.type)) return null;
  // A `let` in a case clause is scoped to the whole switch.
  return parent.type === "SwitchCase" ? (parent.parent ?? null) : parent;
}

function insideLoop(node: Node): boolean {
  for (let current: Node | null = node; current; current = current.parent ?? null) {
    if (LOOPS.has(current.type)) return true;
    if (FUNCTIONS.has(current.type)) return false;
  }
  return false;
}

const rangeOf = (node: { range?: [number, number] }): [number, number] => node.range ?? [0, 0];

function referencesSafe(variable: Scope.Variable, block: Node, loop: boolean): boolean {
  const [blockStart, blockEnd] = rangeOf(block);
  const definition = variable.defs[0];
  const declaredEnd = definition ? rangeOf(definition.node)[1] : Number.POSITIVE_INFINITY;
  return variable.references.every((reference) => {
    const [start] = rangeOf(reference.identifier);
    if (start < blockStart || start >= blockEnd) return false; // used outside the block
    const declaring = reference.init || reference.identifier === definition?.name;
    if (!declaring && start < declaredEnd) return false; // used before its declaration (hoisting)
    // A closure in a loop would see one binding per iteration instead of one for all.
    return !loop || reference.from.variableScope === variable.scope.variableScope;
  });
}

export function varSafety(node: Node, variables: Scope.Variable[]): VarSafety {
  const names = variables.map((variable) => variable.name);
  if (node.type !== "VariableDeclaration") return { names, letSafe: false, constSafe: false };
  const forInOf = isForHead(node) && node.parent?.type !== "ForStatement";
  const initialised = forInOf || node.declarations.every((declarator) => declarator.init != null);
  const block = blockOf(node);
  const loop = insideLoop(node);
  const letSafe =
    block !== null &&
    !("declare" in node && node.declare) &&
    (initialised || !loop) &&
    variables.every(
      (variable) =>
        variable.defs.length === 1 &&
        variable.scope.type !== "global" &&
        variable.name !== "let" &&
        referencesSafe(variable, block, loop),
    );
  const constSafe =
    letSafe &&
    initialised &&
    variables.every((variable) =>
      variable.references.every(
        (reference) =>
          !reference.isWrite() || reference.init || reference.identifier === variable.defs[0]?.name,
      ),
    );
  return { names, letSafe, constSafe };
}
