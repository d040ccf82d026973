import { execute, Kind, type OperationDefinitionNode, parse } from "graphql";
import { describe, expect, it } from "vitest";
import type { GraphQLContext } from "../../src/api/context.js";
import { getSchema } from "../../src/api/schema.js";
import { subscriptionExecution } from "../../src/streaming/fanout/subscription-execution.js";
import type { StreamItem } from "../../src/streaming/follow-stream.js";

const event = {
  id: "6f1c1f0e-8d0a-4a8e-9b57-8a3e2b3c4d5e",
  streamName: "run-4f1c1f0e-8d0a-4a8e-9b57-8a3e2b3c4d5e",
  revision: 7,
  position: "000000000000002a",
  type: "StepProgressed",
  data: {
    stepId: "analyze",
    attempt: 2,
    progress: 0.5,
    message: "half way",
    nested: { list: [1, "two", null] },
  },
  metadata: { index: 3 },
  occurredAt: new Date("2026-11-25T10:00:00.000Z"),
  recordedAt: new Date("2026-11-25T10:00:00.123Z"),
};

const items: [string, StreamItem][] = [
  ["an event", { kind: "event", event }],
  ["the store unavailable", { kind: "unavailable", message: "the store is down", retryAfterMs: 500 }],
  ["the stream's end", { kind: "end", reason: "gone", message: "the run no longer exists" }],
];

const documents: [string, string, Record<string, unknown>][] = [
  [
    "every field of runEvents",
    "subscription($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { runId revision position type data occurredAt } }",
    { runId: "4f1c1f0e-8d0a-4a8e-9b57-8a3e2b3c4d5e", after: null },
  ],
  [
    "aliases, a fragment, __typename and @include",
    `subscription($runId: ID!, $withData: Boolean!) {
       e: runEvents(runId: $runId) { __typename ...parts r: revision payload: data @include(if: $withData) }
     }
     fragment parts on RunEvent { type position }`,
    { runId: "4f1c1f0e-8d0a-4a8e-9b57-8a3e2b3c4d5e", withData: false },
  ],
  [
    "events of all runs",
    "subscription($after: String) { events(after: $after) { runId revision type data } }",
    { after: null },
  ],
];

const context = () =>
  ({ logger: { error() {}, warn() {} }, caller: { role: "viewer" } }) as unknown as GraphQLContext;

/**
 * The fan-out executes each event with graphql-jit's compiled query: what it answers must be what
 * graphql-js's execute (Yoga's own subscription path) answers, data and errors alike.
 */
describe.each(documents)("the fan-out's execution of %s", (_name, text, variableValues) => {
  it.each(items)("answers %s as graphql-js does", async (_item, item) => {
    const schema = getSchema();
    const document = parse(text);
    const operation = document.definitions.find(
      (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
    ) as OperationDefinitionNode;
    const jit = subscriptionExecution({
      schema,
      document,
      operation,
      variableValues,
      contextValue: context(),
    });
    const expected = await execute({
      schema,
      document,
      rootValue: item,
      contextValue: context(),
      variableValues,
    });
    const actual = await jit(item);
    // Not two empty answers: an event has its data, the other items their coded error.
    if (item.kind === "event") expect(actual.data).toBeTruthy();
    else expect(actual.errors?.[0]?.extensions?.code).toMatch(/[A-Z_]+/);
    expect(JSON.parse(JSON.stringify(actual))).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(actual.errors?.map((error) => error.extensions)).toEqual(
      expected.errors?.map((error) => error.extensions),
    );
  });
});
