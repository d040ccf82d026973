import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  getOperationAST,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { RUN_EVENTS_DEFAULT_PAGE } from "../runs/run-event.schema.js";
import { RUNS_DEFAULT_PAGE } from "../runs/runs-connection.schema.js";
import { jsonByteLength } from "../shared/json.js";
import type { GraphQLContext } from "./context.js";
import { publicError } from "./errors.js";

/**
 * Cost of the fields that return large JSON (`input`, `output`, `alternatives`, `data`: up to
 * MAX_INPUT_BYTES or MAX_STEP_OUTPUT_BYTES each). Three bounds, all before a response is built:
 * 1. per request, at most `maxLargeValues` such values, counted from the document before it runs
 *    (aliases and fragments included; a list multiplies by its page size);
 * 2. the response's byte budget (`maxResponseBytes`): each large value is measured as it resolves
 *    and the request fails as a whole once the sum goes over it, so the response is never serialised;
 * 3. per API token, at most `maxConcurrent` expensive queries at once: queries that can return
 *    EXPENSIVE_FROM large values or more (a page of runs with their inputs; one run with its steps is
 *    not). Mutations are bounded by the command rate limit instead.
 * The query depth/size limits (src/auth/query-limits.ts or GraphQL Armor) are separate and compose.
 */
export const LARGE_JSON_FIELDS = new Set(["input", "output", "alternatives", "data"]);

/** A query that can return this many large values or more is expensive (see 3. above). */
export const EXPENSIVE_FROM = 25;

/** Values a list field returns when its page size is not an argument: a run's steps (pipelines have 2-4). */
const UNPAGED_LIST_ESTIMATE = 5;
const DEFAULT_PAGES: Record<string, number> = {
  runs: RUNS_DEFAULT_PAGE,
  runEvents: RUN_EVENTS_DEFAULT_PAGE,
  steps: UNPAGED_LIST_ESTIMATE,
};

export interface ResponseBudgetOptions {
  maxLargeValues: number;
  maxResponseBytes: number;
  maxConcurrent: number;
}

const overBudget = (message: string, limit: Record<string, number>) =>
  publicError("BAD_USER_INPUT", message, { limit });

const busy = (limit: number) =>
  publicError(
    "RATE_LIMITED",
    `This token already runs ${limit} queries with large fields (input, output, alternatives, data), the most allowed at once; retry when one ends.`,
    { retryAfterMs: 1_000, limit, http: { status: 429, headers: { "retry-after": "1" } } },
  );

/** How many large JSON values the operation can return at most, before anything runs. */
export function largeValueCount(
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown>,
): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const fragments = new Map(
    document.definitions
      .filter(
        (definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION,
      )
      .map((definition) => [definition.name.value, definition]),
  );
  const pageOf = (field: FieldNode): number => {
    const first = field.arguments?.find((argument) => argument.name.value === "first")?.value;
    const given =
      first?.kind === Kind.INT
        ? Number(first.value)
        : first?.kind === Kind.VARIABLE
          ? variables[first.name.value]
          : undefined;
    if (typeof given === "number" && Number.isFinite(given) && given >= 0) return given;
    return DEFAULT_PAGES[field.name.value] ?? 1;
  };
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const walk = (set: SelectionSetNode): number => {
    let count = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const own = LARGE_JSON_FIELDS.has(selection.name.value) ? 1 : 0;
        const inner = selection.selectionSet ? walk(selection.selectionSet) : 0;
        count += own + pageOf(selection) * inner;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        count += walk(selection.selectionSet);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || visiting.has(name)) continue;
        let inner = memo.get(name);
        if (inner === undefined) {
          visiting.add(name);
          inner = walk(fragment.selectionSet);
          visiting.delete(name);
          memo.set(name, inner);
        }
        count += inner;
      }
      count = Math.min(count, Number.MAX_SAFE_INTEGER);
    }
    return count;
  };
  return walk(operation.selectionSet);
}

/** Bytes a request's large values used so far, against the budget. */
interface Meter {
  bytes: number;
  exceeded: GraphQLError | null;
}

export function useResponseBudget(options: ResponseBudgetOptions): Plugin<GraphQLContext> {
  const meters = new WeakMap<object, Meter>();
  const running = new Map<string, number>();
  const wrapped = new WeakSet<GraphQLSchema>();

  /** Every large JSON field of the schema charges its value to the request's meter as it resolves. */
  const meterLargeFields = (schema: GraphQLSchema) => {
    if (wrapped.has(schema)) return;
    wrapped.add(schema);
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith("__")) continue;
      for (const field of Object.values(type.getFields())) {
        if (!LARGE_JSON_FIELDS.has(field.name)) continue;
        const resolve: GraphQLFieldResolver<unknown, object> =
          field.resolve ?? ((source) => (source as Record<string, unknown>)[field.name]);
        field.resolve = async (source, args, context, info) => {
          const meter = meters.get(context);
          if (meter?.exceeded) throw meter.exceeded;
          const value = await resolve(source, args, context, info);
          if (!meter) return value;
          meter.bytes += jsonByteLength(value);
          if (meter.bytes > options.maxResponseBytes) {
            meter.exceeded = overBudget(
              `The response would be larger than MAX_RESPONSE_BYTES (${options.maxResponseBytes} bytes); ask for fewer runs, steps or events, or leave out input/output/alternatives/data.`,
              { maxResponseBytes: options.maxResponseBytes },
            );
            throw meter.exceeded;
          }
          return value;
        };
      }
    }
  };

  return {
    onSchemaChange({ schema }) {
      meterLargeFields(schema);
    },
    onExecute({ args, setResultAndStopExecution }) {
      meterLargeFields(args.schema);
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const count = largeValueCount(args.document, args.operationName, variables);
      if (count === 0) return;
      if (count > options.maxLargeValues) {
        setResultAndStopExecution({
          errors: [
            overBudget(
              `The query can return ${count} large JSON values (input, output, alternatives, data); at most ${options.maxLargeValues} per request are allowed (MAX_LARGE_VALUES_PER_REQUEST).`,
              { maxLargeValues: options.maxLargeValues },
            ),
          ],
        });
        return;
      }
      const tokenId = args.contextValue.caller.tokenId;
      const expensive =
        count >= EXPENSIVE_FROM && getOperationAST(args.document, args.operationName)?.operation === "query";
      if (expensive) {
        const now = running.get(tokenId) ?? 0;
        if (now >= options.maxConcurrent) {
          setResultAndStopExecution({ errors: [busy(options.maxConcurrent)] });
          return;
        }
        running.set(tokenId, now + 1);
      }
      const meter: Meter = { bytes: 0, exceeded: null };
      meters.set(args.contextValue, meter);
      return {
        onExecuteDone({ result, setResult }) {
          if (expensive) {
            const left = (running.get(tokenId) ?? 1) - 1;
            if (left > 0) running.set(tokenId, left);
            else running.delete(tokenId);
          }
          meters.delete(args.contextValue);
          // Over budget: the partial data is dropped here, so the large response is never serialised.
          if (meter.exceeded && !(Symbol.asyncIterator in (result as object))) {
            setResult({ data: null, errors: [meter.exceeded] });
          }
        },
      };
    },
  };
}
