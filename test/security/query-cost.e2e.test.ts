import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { as, codeOf, newToken } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { gql, gqlOk } from "../support/graphql-client.js";

/** 30 runs with ~900 KB inputs: unrefused, the five-alias query answers 135 MB of JSON (as in the issue). */
const RUNS = 30;
const ARMOR_LIFTED = {
  MAX_QUERY_TOKENS: "1000000",
  MAX_QUERY_COMPLEXITY: "100000000",
  MAX_QUERY_ALIASES: "10000",
};
const INPUT_BYTES = 900_000;
const MAX_RESPONSE_BYTES = 3_000_000;

let app: TestApp;
const ids: string[] = [];
beforeAll(async () => {
  app = await startTestApp({
    env: {
      // GraphQL Armor's shape limits (test/auth/query-limits.e2e.test.ts) would refuse these documents
      // first; lifted so that this file tests the size-based cost itself.
      ...ARMOR_LIFTED,
      MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
      MAX_EXPENSIVE_QUERIES_PER_TOKEN: "1",
      // COST_EXPERIMENT=1 lifts the limits, to see what the first two tests measure without them.
      ...(process.env.COST_EXPERIMENT
        ? {
            MAX_LARGE_VALUES_PER_REQUEST: "100000",
            MAX_RESPONSE_BYTES: "1000000000",
            MAX_EXPENSIVE_QUERIES_PER_TOKEN: "100",
          }
        : {}),
    },
  });
  for (let index = 0; index < RUNS; index++) {
    const input = { repo: `r${index}`, blob: "x".repeat(INPUT_BYTES) };
    const started = await gqlOk<{ startRun: { id: string } }>(
      app.baseUrl,
      `mutation($input: JSON) { startRun(pipeline: "test", input: $input) { id } }`,
      { input },
    );
    ids.push(started.startRun.id);
  }
});
afterAll(async () => {
  await app?.close();
});

/** The request's answer and how far this process's RSS (the API runs in it) rose while it ran. */
async function withRssPeak<T>(work: () => Promise<T>): Promise<{ result: T; growthMb: number }> {
  global.gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growthMb: (peak - baseline) / 1e6 };
  } finally {
    clearInterval(sampler);
  }
}

describe("cost of large JSON fields", () => {
  it("refuses five aliased runs(first: 100) { input } before memory grows by 100 MB (four at once)", async () => {
    const aliases = [0, 1, 2, 3, 4].map(
      (index) => `a${index}: runs(first: 100) { edges { node { input } } }`,
    );
    const { result, growthMb } = await withRssPeak(() =>
      Promise.all([0, 1, 2, 3].map(() => gql(app.baseUrl, `{ ${aliases.join(" ")} }`))),
    );
    if (process.env.COST_EXPERIMENT || process.env.COST_REPORT)
      console.log(`five aliases, four at once: RSS +${growthMb.toFixed(0)} MB`);
    for (const answer of result) {
      expect(answer.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      expect(answer.errors?.[0]?.message).toMatch(/MAX_LARGE_VALUES_PER_REQUEST/);
      expect(answer.data).toBeNull();
    }
    expect(growthMb).toBeLessThan(100);
  });

  it("refuses run(id) { input } aliased 500 times before memory grows by 100 MB", async () => {
    const aliases = Array.from({ length: 500 }, (_, index) => `r${index}: run(id: "${ids[0]}") { input }`);
    const { result, growthMb } = await withRssPeak(() => gql(app.baseUrl, `{ ${aliases.join(" ")} }`));
    if (process.env.COST_EXPERIMENT || process.env.COST_REPORT) {
      console.log(
        `500 aliases: RSS +${growthMb.toFixed(0)} MB`,
        JSON.stringify(result.errors)?.slice(0, 300),
      );
    }
    expect(result.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(result.errors?.[0]?.message).toMatch(/500 large JSON values/);
    expect(growthMb).toBeLessThan(100);
  });

  it("answers a response over MAX_RESPONSE_BYTES with BAD_USER_INPUT naming the limit, and no partial data", async () => {
    const result = await gql(app.baseUrl, `{ runs(first: 5) { edges { node { id input } } } }`);
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(result.errors?.[0]?.message).toMatch(`MAX_RESPONSE_BYTES (${MAX_RESPONSE_BYTES} bytes)`);
    expect(result.data).toBeNull();
    // Under the budget it answers, and queries without large fields are not metered at all.
    const two = await gqlOk<{ runs: { edges: { node: { input: { blob: string } } }[] } }>(
      app.baseUrl,
      `{ runs(first: 2) { edges { node { input } } } }`,
    );
    expect(two.runs.edges.map((edge) => edge.node.input.blob.length)).toEqual([INPUT_BYTES, INPUT_BYTES]);
    expect(
      (
        await gqlOk<{ runs: { edges: unknown[] } }>(
          app.baseUrl,
          `{ runs(first: 100) { edges { node { id } } } }`,
        )
      ).runs.edges,
    ).toHaveLength(RUNS);
  });

  it("runs at most MAX_EXPENSIVE_QUERIES_PER_TOKEN expensive queries of one token at once", async () => {
    // A workspace of 30 runs with small inputs: a page of all 30 inputs is expensive (EXPENSIVE_FROM)
    // but within the byte budget.
    const small = await newToken(app, "small", "operator");
    for (let index = 0; index < 30; index++) {
      const started = await as(
        app,
        small.headers,
        `mutation { startRun(pipeline: "test", input: { repo: "s${index}" }) { id } }`,
      );
      expect(started.errors).toBeUndefined();
    }
    const query = `{ runs(first: 30) { edges { node { input } } } }`;
    const answers = await Promise.all(Array.from({ length: 10 }, () => as(app, small.headers, query)));
    const codes = answers.map((answer) => codeOf(answer) ?? "ok");
    expect(codes).toContain("ok");
    expect(codes).toContain("RATE_LIMITED");
    const refused = answers.find((answer) => codeOf(answer) === "RATE_LIMITED");
    expect(refused?.status).toBe(429);
    expect(refused?.errors?.[0]?.extensions?.retryAfterMs).toBeGreaterThan(0);
    // Another token has its own allowance, and cheap queries (and mutations) are never held back.
    const other = await newToken(app, "small", "viewer");
    const [cheap, one, mine] = await Promise.all([
      as(app, small.headers, `{ pipelines { name } }`),
      as(app, small.headers, `{ runs(first: 3) { edges { node { input } } } }`),
      as(app, other.headers, query),
      as(app, small.headers, query),
    ]);
    expect(codeOf(cheap)).toBeUndefined();
    expect(codeOf(one)).toBeUndefined();
    expect(codeOf(mine)).toBeUndefined();
  });
});
