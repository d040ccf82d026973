import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { overLimit } from "./auth-errors.js";

interface Shape {
  depth: number;
  fields: number;
}

/**
 * Depth and size (fields selected, aliases included) of each operation with its fragments expanded.
 * Each fragment is measured once (memoised), so a "fragment bomb" costs linear time to measure;
 * a cycle (which validation rejects anyway) counts as nothing.
 */
function measure(selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>) {
  const memo = new Map<string, Shape>();
  const visiting = new Set<string>();
  const walk = (set: SelectionSetNode): Shape => {
    let depth = 0;
    let fields = 0;
    for (const selection of set.selections) {
      let inner: Shape;
      if (selection.kind === Kind.FIELD) {
        const child = selection.selectionSet ? walk(selection.selectionSet) : { depth: 0, fields: 0 };
        inner = { depth: child.depth + 1, fields: child.fields + 1 };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        inner = walk(selection.selectionSet);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || visiting.has(name)) continue;
        let shape = memo.get(name);
        if (!shape) {
          visiting.add(name);
          shape = walk(fragment.selectionSet);
          visiting.delete(name);
          memo.set(name, shape);
        }
        inner = shape;
      }
      depth = Math.max(depth, inner.depth);
      // Saturates instead of overflowing on absurd documents.
      fields = Math.min(fields + inner.fields, Number.MAX_SAFE_INTEGER);
    }
    return { depth, fields };
  };
  return walk(selectionSet);
}

/** Refuses operations deeper than `maxDepth` or selecting more than `maxFields` fields. */
export function queryShapeRule(maxDepth: number, maxFields: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map(
      context
        .getDocument()
        .definitions.filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION)
        .map((definition) => [definition.name.value, definition]),
    );
    return {
      OperationDefinition(operation) {
        const shape = measure(operation.selectionSet, fragments);
        if (shape.depth > maxDepth) {
          context.reportError(
            overLimit(`The query is ${shape.depth} levels deep; at most ${maxDepth} are allowed.`),
          );
        }
        if (shape.fields > maxFields) {
          context.reportError(
            overLimit(`The query selects ${shape.fields} fields; at most ${maxFields} are allowed.`),
          );
        }
      },
    };
  };
}

export interface QueryLimits {
  maxDepth: number;
  maxFields: number;
  introspection: boolean;
}

/** The shape limits, and no introspection when it is switched off. */
export const useQueryLimits = (limits: QueryLimits): Plugin => ({
  onValidate({ addValidationRule }) {
    addValidationRule(queryShapeRule(limits.maxDepth, limits.maxFields));
    if (!limits.introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
  },
});
