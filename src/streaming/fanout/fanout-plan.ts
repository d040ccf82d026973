import {
  type DocumentNode,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  print,
} from "graphql";
import type { GraphQLContext } from "../../api/context.js";
import type { StreamSource } from "../stream-source.js";

export type FanoutKind = "runEvents" | "events";

/**
 * What the SSE fan-out needs to serve one subscription without Yoga: recorded by the subscription's
 * resolver (after its checks passed), keyed by the HTTP request, and taken over by the SSE result
 * processor. Subscribers with the same `groupKey` receive the same bytes for the same event.
 */
export interface FanoutPlan {
  kind: FanoutKind;
  source: StreamSource<unknown>;
  after: unknown;
  /** The cursor as clients see it (`id:` line and `extensions.cursor`). */
  cursorText(cursor: unknown): string;
  /** Only events of this workspace's runs (`events`); null: the whole stream (checked at subscribe). */
  workspaceId: string | null;
  tokenId: string;
  groupKey: string;
  /** How to execute an event for this subscription (the subscriber's own document and variables). */
  execution: {
    schema: GraphQLSchema;
    document: DocumentNode;
    /** The parsed operation (shared by every subscriber of the same query text: Yoga caches parses). */
    operation: OperationDefinitionNode;
    variableValues: Record<string, unknown>;
    contextValue: GraphQLContext;
  };
}

const plans = new WeakMap<object, FanoutPlan>();

export function recordFanoutPlan(request: object | undefined, plan: FanoutPlan): void {
  if (request) plans.set(request, plan);
}

/** The request's plan, once: whoever takes it serves the subscription. */
export function takeFanoutPlan(request: object): FanoutPlan | undefined {
  const plan = plans.get(request);
  plans.delete(request);
  return plan;
}

/** The operation's text, printed once per parsed document (Yoga caches parses by query text). */
const printed = new WeakMap<OperationDefinitionNode, string>();

/**
 * The plan of a subscription field. Its group key: the stream, the caller's visibility (workspace
 * and role), the document and the variables except the one that carries the cursor (`after`).
 */
export function fanoutPlan(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  stream: Pick<FanoutPlan, "kind" | "source" | "after" | "cursorText" | "workspaceId">,
): FanoutPlan {
  const document: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [info.operation, ...Object.values(info.fragments)],
  };
  let text = printed.get(info.operation);
  if (text === undefined) {
    text = print(document);
    printed.set(info.operation, text);
  }
  const afterArgument = info.fieldNodes[0]?.arguments?.find((argument) => argument.name.value === "after");
  const cursorVariable = afterArgument?.value.kind === Kind.VARIABLE ? afterArgument.value.name.value : null;
  const variables = Object.entries(info.variableValues).filter(([name]) => name !== cursorVariable);
  const groupKey = JSON.stringify([
    stream.kind,
    stream.source.key,
    stream.workspaceId,
    ctx.workspaceId,
    ctx.caller.role,
    text,
    variables,
  ]);
  return {
    ...stream,
    tokenId: ctx.caller.tokenId,
    groupKey,
    execution: {
      schema: info.schema,
      document,
      operation: info.operation,
      variableValues: info.variableValues,
      contextValue: ctx,
    },
  };
}
