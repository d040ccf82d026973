import { type ExecutionResult, execute } from "graphql";
import { type CompiledQuery, compileQuery, isCompiledQuery } from "graphql-jit";
import type { StreamItem } from "../follow-stream.js";
import type { FanoutPlan } from "./fanout-plan.js";

/** Executes one item of a subscription's stream for its document, as graphql-js does per event. */
export type SubscriptionExecution = (item: StreamItem) => Promise<ExecutionResult>;

/**
 * Compiled once per parsed operation (Yoga caches parses by query text, so every subscriber of the
 * same text shares it; the WeakMap lets it go with the parse). null: graphql-jit could not compile
 * it, graphql-js executes it.
 */
const compiledByOperation = new WeakMap<object, CompiledQuery | null>();

/**
 * How the fan-out executes a subscription's events: compiled by graphql-jit (one event of a
 * runEvents selection in 2 µs instead of graphql-js's 13, measured), with the item as the root
 * value, exactly as graphql-js's subscribe maps each event through `execute`.
 */
export function subscriptionExecution(execution: FanoutPlan["execution"]): SubscriptionExecution {
  const { schema, document, operation, variableValues, contextValue } = execution;
  let compiled = compiledByOperation.get(operation);
  if (compiled === undefined) {
    const result = compileQuery(schema, document);
    compiled = isCompiledQuery(result) ? result : null;
    compiledByOperation.set(operation, compiled);
  }
  const query = compiled;
  if (query)
    return async (item) => (await query.query(item, contextValue, variableValues)) as ExecutionResult;
  return async (item) =>
    (await execute({ schema, document, rootValue: item, contextValue, variableValues })) as ExecutionResult;
}
