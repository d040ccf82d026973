import {
  type DocumentNode,
  type FragmentDefinitionNode,
  getOperationAST,
  Kind,
  type OperationTypeNode,
  type SelectionSetNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { GraphQLContext } from "../api/context.js";
import { forbidden, overLimit, rateLimited } from "./auth-errors.js";
import { higherRole, type Role, roleAllows } from "./roles.js";
import type { TokenBuckets } from "./token-bucket.js";

/** Root fields that need more than their operation type's default role. */
const FIELD_ROLES: Record<string, Role> = { rebuildProjections: "system", projectionStatus: "admin" };

/** Queries and subscriptions are for every role (viewer and up); commands for operators. */
export const DEFAULT_ROLES: Record<OperationTypeNode, Role> = {
  query: "viewer",
  subscription: "viewer",
  mutation: "operator",
};

/** The root fields an operation selects, through fragments too. */
function rootFields(document: DocumentNode, selectionSet: SelectionSetNode): string[] {
  const fragments = new Map(
    document.definitions
      .filter(
        (definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION,
      )
      .map((definition) => [definition.name.value, definition]),
  );
  const names: string[] = [];
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) names.push(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  walk(selectionSet);
  return names;
}

/**
 * Checks the caller's role against every root field before anything executes, then charges the
 * caller's command bucket one token per command (mutation field): a refused operation does nothing.
 */
export function useAuthorization(commands: TokenBuckets, burst: number): Plugin<GraphQLContext> {
  const check = (document: DocumentNode, operationName: string | null | undefined, ctx: GraphQLContext) => {
    const operation = getOperationAST(document, operationName);
    if (!operation) return null;
    const fields = rootFields(document, operation.selectionSet).filter((name) => name !== "__typename");
    const needed = fields.reduce<Role>(
      (role, field) => higherRole(role, FIELD_ROLES[field] ?? role),
      DEFAULT_ROLES[operation.operation],
    );
    if (!roleAllows(ctx.caller.role, needed)) {
      return forbidden(`This operation needs the ${needed} role; the token has ${ctx.caller.role}.`);
    }
    if (operation.operation === "mutation" && fields.length > 0) {
      if (fields.length > burst) return overLimit(`At most ${burst} commands per request.`);
      const taken = commands.take(ctx.caller.tokenId, fields.length);
      if (!taken.ok) return rateLimited(taken.retryAfterMs);
    }
    return null;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = check(args.document, args.operationName, args.contextValue);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = check(args.document, args.operationName, args.contextValue);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
