import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { PrismaPg } from "@prisma/adapter-pg";
import { pino } from "pino";
import { afterAll, beforeAll, test } from "vitest";
import { PrismaClient } from "../../src/generated/prisma/client.js";
import { startTestApp, TEST_PIPELINE, type TestApp } from "../support/app.js";
import { gql, gqlOk } from "../support/graphql-client.js";
import { RUN_FIELDS, type RunJson, START_RUN } from "./fragments.js";
import { claim, completeStep, drive, startStep } from "./worker-driver.js";

/** A pipeline whose input check hits a bug: what a user must never see the details of. */
const BUGGY_PIPELINE = {
  ...TEST_PIPELINE,
  name: "buggy",
  validateInput: (): string | null => {
    throw new Error("secret internals: connection to 10.0.0.7 refused");
  },
};

const logLines: Record<string, unknown>[] = [];
const sqlStatements: string[] = [];
let readPrisma: PrismaClient;
let app: TestApp;

beforeAll(async () => {
  const logStream = new PassThrough();
  logStream.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) logLines.push(JSON.parse(line));
  });
  app = await startTestApp({
    pipelines: [TEST_PIPELINE, BUGGY_PIPELINE],
    logger: pino({ level: "info" }, logStream),
    prisma: (url) => {
      const logging = new PrismaClient({
        adapter: new PrismaPg({ connectionString: url, max: 5 }),
        log: [{ emit: "event", level: "query" }],
      });
      logging.$on("query", (event) => sqlStatements.push(event.query));
      readPrisma = logging as unknown as PrismaClient;
      return readPrisma;
    },
  });
});
afterAll(async () => {
  await app?.close();
  await readPrisma?.$disconnect();
});

test("GraphiQL is served as HTML to browsers at /graphql", async () => {
  const response = await fetch(`${app.baseUrl}/graphql`, { headers: { accept: "text/html" } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /text\/html/);
  assert.match(await response.text(), /graphiql/i);
});

test("GET /graphql with a query answers JSON", async () => {
  const response = await fetch(
    `${app.baseUrl}/graphql?query=${encodeURIComponent("{ pipelines { name } }")}`,
    {
      headers: { accept: "application/json", ...app.authHeaders },
    },
  );
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { data: { pipelines: [{ name: "test" }, { name: "buggy" }] } });
});

test("/healthz says the process is up", async () => {
  const response = await fetch(`${app.baseUrl}/healthz`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok" });
});

// /readyz: test/api/readyz.e2e.test.ts

test("an unexpected error is masked, carries a correlation id, and is logged with it", async () => {
  const result = await gql(app.baseUrl, START_RUN, { pipeline: "buggy", input: { repo: "r" } });
  assert.equal(result.data, null);
  const error = result.errors?.[0];
  assert.equal(error?.message, "Unexpected error.");
  assert.equal(error?.extensions?.code, "INTERNAL_SERVER_ERROR");
  assert.doesNotMatch(JSON.stringify(result), /secret|10\.0\.0\.7/);
  const correlationId = error?.extensions?.correlationId;
  assert.ok(correlationId);
  assert.equal(result.headers.get("x-request-id"), correlationId);
  const logged = logLines.find((line) => line.correlationId === correlationId);
  assert.ok(logged, "the error is logged with its correlation id");
  assert.match(JSON.stringify(logged.err), /secret internals/);
  // The request's own line says it met an unexpected error.
  await waitUntil(() => logLines.some((line) => line.msg === "request" && line.requestId === correlationId));
  const requestLine = logLines.find((line) => line.msg === "request" && line.requestId === correlationId);
  assert.equal(requestLine?.unexpectedErrors, 1);
});

test("each request is logged once, with its id, operation, status and duration", async () => {
  const response = await fetch(`${app.baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": "client-chosen-id-1", ...app.authHeaders },
    body: JSON.stringify({ query: "query Named { pipelines { name } }", operationName: "Named" }),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-request-id"), "client-chosen-id-1");
  await waitUntil(() => logLines.some((line) => line.requestId === "client-chosen-id-1"));
  const lines = logLines.filter((line) => line.requestId === "client-chosen-id-1");
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.operation, "Named");
  assert.equal(lines[0]?.status, 200);
  assert.equal(typeof lines[0]?.durationMs, "number");
});

test("a page of runs with their steps loads in two SQL statements, whatever the page size (no N+1)", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    ids.push(
      (await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, { pipeline: "test", input: { repo: "r" } }))
        .startRun.id,
    );
  }
  await drive(app.ctx, ids[0] as string, [claim(), startStep("plan"), completeStep("plan")]);
  const countFor = async (first: number) => {
    sqlStatements.length = 0;
    const { runs } = await gqlOk<{ runs: { edges: { node: RunJson }[] } }>(
      app.baseUrl,
      `query($first: Int) { runs(first: $first) { edges { node { ${RUN_FIELDS} } } } }`,
      { first },
    );
    assert.equal(runs.edges.length, first);
    for (const { node } of runs.edges) {
      assert.deepEqual(
        node.steps.map((step) => step.index),
        [0, 1, 2],
      );
    }
    return sqlStatements.filter((sql) => /^\s*SELECT/i.test(sql)).length;
  };
  assert.equal(await countFor(2), 2);
  assert.equal(await countFor(6), 2);
});

async function waitUntil(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
