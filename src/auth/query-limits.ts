import { EnvelopArmor } from "@escape.tech/graphql-armor";
import type { GraphQLArmorRejectCallback } from "@escape.tech/graphql-armor-types";
import { NoSchemaIntrospectionCustomRule } from "graphql";
import type { Plugin } from "graphql-yoga";
import { overLimit } from "./auth-errors.js";

/**
 * Limits on an operation's shape, by GraphQL Armor: tokens (checked while parsing), depth, aliases and
 * cost (validation rules), with fragments expanded. Introspection (`__schema`) is left out of depth
 * and cost, so GraphiQL's own introspection query passes; its tokens still count.
 *
 * Armor's errors carry no code: every rejection is reported as the contract's BAD_USER_INPUT
 * instead (one error per limit broken), and the request executes nothing.
 */
export interface QueryLimits {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  maxTokens: number;
  introspection: boolean;
}

const asBadUserInput: GraphQLArmorRejectCallback = (context, error) => {
  const rejection = overLimit(error.message.replace(/^Syntax Error: /, ""));
  // Token limits are checked while parsing, where there is no validation context to report to.
  if (!context) throw rejection;
  context.reportError(rejection);
};

const rejection = { onReject: [asBadUserInput], propagateOnRejection: false };

export function queryLimitPlugins(limits: QueryLimits): Plugin[] {
  const armor = new EnvelopArmor({
    maxTokens: { n: limits.maxTokens, ...rejection },
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ignoreIntrospection: true, ...rejection },
    maxAliases: { n: limits.maxAliases, ...rejection },
    costLimit: { maxCost: limits.maxCost, flattenFragments: true, ignoreIntrospection: true, ...rejection },
    maxDirectives: { ...rejection },
    blockFieldSuggestion: { enabled: true },
  });
  const introspection: Plugin = {
    onValidate({ addValidationRule }) {
      if (!limits.introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
  return [...(armor.protect().plugins as Plugin[]), introspection];
}
