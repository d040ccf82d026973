import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStream } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { gql, gqlOk } from "../support/graphql-client.js";

let app: TestApp;
let runId: string;
beforeAll(async () => {
  // GraphQL Armor's token limit (test/auth/query-limits.e2e.test.ts) would refuse the long documents
  // first; lifted so that this file tests its own checks.
  app = await startTestApp({ env: { MAX_QUERY_TOKENS: "1000000", MAX_QUERY_ALIASES: "10000" } });
  runId = (
    await gqlOk<{ startRun: { id: string } }>(
      app.baseUrl,
      `mutation { startRun(pipeline: "test", input: { repo: "r" }) { id } }`,
    )
  ).startRun.id;
});
afterAll(async () => {
  await app?.close();
});

const eventCount = async () => (await app.ctx.store.readAll({ maxCount: 100_000 })).length;

/** A raw POST (the body is built by hand: JSON.stringify itself cannot write 100,000 levels). */
const post = async (body: string) => {
  const response = await fetch(`${app.baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...app.authHeaders },
    body,
  });
  return {
    status: response.status,
    body: (await response.json()) as { errors?: { message: string; extensions: { code: string } }[] },
  };
};

const START = `mutation($input: JSON, $key: String) { startRun(pipeline: "test", input: $input, idempotencyKey: $key) { id } }`;
const deepJson = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

describe("malformed input answers BAD_USER_INPUT and appends nothing", () => {
  const cases: [
    string,
    () => Promise<{ body: { errors?: { message: string; extensions: { code: string } }[] } }>,
  ][] = [
    [
      "JSON nested 100,000 levels in a variable",
      () =>
        post(
          `{"query":${JSON.stringify(START)},"variables":{"input":{"repo":"r","deep":${deepJson(100_000)}}}}`,
        ),
    ],
    [
      "a literal nested deeper than the parser's stack",
      () =>
        post(
          JSON.stringify({
            query: `mutation { startRun(pipeline: "test", input: ${"{a:".repeat(20_000)}1${"}".repeat(20_000)}) { id } }`,
          }),
        ),
    ],
    [
      "a literal nested 100 levels",
      () =>
        post(
          JSON.stringify({
            query: `mutation { startRun(pipeline: "test", input: ${"{a:".repeat(100)}1${"}".repeat(100)}) { id } }`,
          }),
        ),
    ],
    [
      "a NUL character in an id",
      () =>
        post(
          JSON.stringify({
            query: `mutation($id: ID!) { cancelRun(runId: $id) { id } }`,
            variables: { id: `${runId}\u0000` },
          }),
        ),
    ],
    [
      "a lone surrogate in an id",
      () =>
        post(
          JSON.stringify({
            query: `mutation($id: ID!) { cancelRun(runId: $id) { id } }`,
            variables: { id: `${runId}\ud800` },
          }),
        ),
    ],
    [
      "a NUL character in a literal id",
      () => post(JSON.stringify({ query: `{ run(id: "a\\u0000b") { id } }` })),
    ],
    [
      "a NUL character inside the input",
      () => post(JSON.stringify({ query: START, variables: { input: { repo: "r\u0000" } } })),
    ],
    [
      "a lone surrogate in the idempotency key",
      () => post(JSON.stringify({ query: START, variables: { input: { repo: "r" }, key: "k\udc00" } })),
    ],
    [
      "a lone surrogate in an input key",
      () => post(JSON.stringify({ query: START, variables: { input: { repo: "r", "\ud800": 1 } } })),
    ],
  ];

  it.each(cases)("%s", async (_what, send) => {
    const before = await eventCount();
    const { body } = await send();
    expect(body.errors?.[0]?.extensions.code).toBe("BAD_USER_INPUT");
    expect(body.errors?.[0]?.message).toMatch(/nested|NUL|surrogate/);
    expect(await eventCount()).toBe(before);
  });

  it("a lone surrogate escaped in a literal is a syntax error of the document (GraphQL's own lexer)", async () => {
    const before = await eventCount();
    const { body } = await post(JSON.stringify({ query: `mutation { cancelRun(runId: "\\ud800") { id } }` }));
    expect(body.errors?.[0]?.extensions.code).toBe("GRAPHQL_PARSE_FAILED");
    expect(body.errors?.[0]?.message).toMatch(/Unicode/);
    expect(await eventCount()).toBe(before);
  });

  it("an `events` position at or above 2^63 is refused on the stream, whatever its form", async () => {
    for (const after of ["8000000000000000-0000000000000000", "0000000000000001-ffffffffffffffff"]) {
      const stream = await openStream(`${app.baseUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...app.authHeaders },
        body: JSON.stringify({
          query: "subscription($after: String) { events(after: $after) { type } }",
          variables: { after },
        }),
      });
      const message = await stream.next();
      stream.close();
      expect(message?.event).toBe("next");
      expect(JSON.parse(message?.data ?? "{}").errors[0].extensions.code).toBe("BAD_USER_INPUT");
    }
  });

  it("well-formed input with emoji and ordinary nesting still works", async () => {
    const result = await gql(app.baseUrl, START, {
      input: { repo: "r 😀", nested: { a: { b: [1, { c: "d" }] } } },
    });
    expect(result.errors).toBeUndefined();
  });
});
