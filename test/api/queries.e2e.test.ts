import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, test } from "vitest";
import { executeRunCommand } from "../../src/runs/execute.js";
import { newId } from "../../src/shared/ids.js";
import { startTestApp, TEST_PIPELINE, type TestApp } from "../support/app.js";
import { gql, gqlErrorCode, gqlOk } from "../support/graphql-client.js";
import { RUN_FIELDS, type RunJson, START_RUN } from "./fragments.js";
import { claim, completeStep, drive, startStep } from "./worker-driver.js";

const OTHER_PIPELINE = { ...TEST_PIPELINE, name: "other", description: "another", validateInput: () => null };

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ pipelines: [TEST_PIPELINE, OTHER_PIPELINE] });
});
afterAll(async () => {
  await app?.close();
});

const start = async (pipeline = "test", input: unknown = { repo: "r" }) =>
  (await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, { pipeline, input })).startRun;

describe("run(id)", () => {
  test("returns the run with its steps in order", async () => {
    const started = await start("test", { repo: "acme/web", deep: [1, { a: null }] });
    const { run } = await gqlOk<{ run: RunJson }>(
      app.baseUrl,
      `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`,
      {
        id: started.id,
      },
    );
    assert.deepEqual(run, started);
    assert.equal(run.pipeline, "test");
    assert.equal(run.status, "PENDING");
    assert.equal(run.revision, 0);
    assert.deepEqual(run.input, { repo: "acme/web", deep: [1, { a: null }] });
    assert.deepEqual(
      run.steps.map((step) => [step.index, step.id, step.name, step.status, step.attempt]),
      [
        [0, "plan", "Plan", "PENDING", 1],
        [1, "apply", "Apply", "PENDING", 1],
        [2, "review", "Review", "PENDING", 1],
      ],
    );
    assert.match(run.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test("is null for an unknown run and for a run of another workspace", async () => {
    const query = "query($id: ID!) { run(id: $id) { id } }";
    assert.deepEqual(await gqlOk(app.baseUrl, query, { id: newId() }), { run: null });
    const foreign = await startInOtherWorkspace();
    assert.deepEqual(await gqlOk(app.baseUrl, query, { id: foreign }), { run: null });
  });
});

/** A run that exists, but in a workspace the API's callers are not in. */
async function startInOtherWorkspace(): Promise<string> {
  const runId = newId();
  const result = await executeRunCommand(app.ctx.store, {
    type: "StartRun",
    runId,
    now: new Date().toISOString(),
    workspaceId: "elsewhere",
    pipeline: "test",
    steps: [{ id: "plan", name: "Plan" }],
    input: { repo: "x" },
    idempotencyKey: null,
  });
  await app.ctx.projections.waitFor(result.position as string, 5_000);
  return runId;
}

describe("runs", () => {
  const RUNS = `query($first: Int, $after: String, $status: RunStatus, $pipeline: String) {
    runs(first: $first, after: $after, status: $status, pipeline: $pipeline) {
      edges { cursor node { id pipeline status createdAt steps { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }`;
  type Page = {
    runs: {
      edges: { cursor: string; node: { id: string; pipeline: string; status: string; createdAt: string } }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  };
  const ids: string[] = [];
  let runningId = "";

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) ids.push((await start("test")).id);
    for (let i = 0; i < 3; i++) ids.push((await start("other", null)).id);
    runningId = ids[1] as string;
    await drive(app.ctx, runningId, [claim(), startStep("plan")]);
  });

  async function all(variables: Record<string, unknown>, first: number) {
    const seen: Page["runs"]["edges"] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const { runs }: Page = await gqlOk<Page>(app.baseUrl, RUNS, { ...variables, first, after });
      seen.push(...runs.edges);
      assert.equal(runs.pageInfo.endCursor, runs.edges.at(-1)?.cursor ?? null);
      if (!runs.pageInfo.hasNextPage) return seen;
      after = runs.pageInfo.endCursor;
    }
    throw new Error("pagination did not end");
  }

  test("pages through every run once, newest first", async () => {
    const whole = await all({}, 100);
    const mine = whole.filter((edge) => ids.includes(edge.node.id));
    assert.equal(mine.length, ids.length);
    const created = whole.map((edge) => Date.parse(edge.node.createdAt));
    assert.deepEqual(
      created,
      [...created].sort((a, b) => b - a),
    );
    // Started one after another, so newest first is the reverse of the start order here.
    assert.deepEqual(
      mine.map((edge) => edge.node.id),
      [...ids].reverse(),
    );
    for (const size of [1, 2, 3]) {
      const paged = await all({}, size);
      assert.deepEqual(
        paged.map((edge) => edge.node.id),
        whole.map((edge) => edge.node.id),
        `pages of ${size}`,
      );
    }
  });

  test("filters by status and pipeline, also across pages", async () => {
    const others = await all({ pipeline: "other" }, 2);
    assert.deepEqual(
      others.map((edge) => edge.node.id),
      ids.slice(4).reverse(),
    );
    const running = await all({ status: "RUNNING" }, 1);
    assert.deepEqual(
      running.map((edge) => edge.node.id),
      [runningId],
    );
    const pendingTests = await all({ status: "PENDING", pipeline: "test" }, 1);
    assert.ok(pendingTests.every((edge) => edge.node.status === "PENDING" && edge.node.pipeline === "test"));
    assert.ok(!pendingTests.some((edge) => edge.node.id === runningId));
    assert.deepEqual(await all({ pipeline: "nope" }, 5), []);
  });

  test("first: 0 gives an empty page that knows more exist", async () => {
    const { runs } = await gqlOk<Page>(app.baseUrl, RUNS, { first: 0 });
    assert.deepEqual(runs, { edges: [], pageInfo: { hasNextPage: true, endCursor: null } });
  });

  test("rejects a bad cursor and an out-of-range first with BAD_USER_INPUT", async () => {
    for (const after of ["nonsense", Buffer.from('["x","y"]').toString("base64url"), ""]) {
      assert.equal(await gqlErrorCode(app.baseUrl, RUNS, { first: 2, after }), "BAD_USER_INPUT", after);
    }
    assert.equal(await gqlErrorCode(app.baseUrl, RUNS, { first: 101 }), "BAD_USER_INPUT");
    assert.equal(await gqlErrorCode(app.baseUrl, RUNS, { first: -1 }), "BAD_USER_INPUT");
  });

  test("does not list runs of another workspace", async () => {
    const foreign = await startInOtherWorkspace();
    const whole = await all({}, 100);
    assert.ok(!whole.some((edge) => edge.node.id === foreign));
  });
});

describe("runEvents", () => {
  const EVENTS = `query($runId: ID!, $after: Int, $first: Int) {
    runEvents(runId: $runId, after: $after, first: $first) { runId revision position type data occurredAt }
  }`;
  type Events = {
    runEvents: {
      runId: string;
      revision: number;
      position: string;
      type: string;
      data: Record<string, unknown>;
      occurredAt: string;
    }[];
  };

  test("lists the run's stored events in order, from `after`, at most `first`", async () => {
    const run = await start();
    await drive(app.ctx, run.id, [claim(), startStep("plan"), completeStep("plan", { patch: "diff" })]);
    const { runEvents } = await gqlOk<Events>(app.baseUrl, EVENTS, { runId: run.id });
    assert.deepEqual(
      runEvents.map((event) => [event.revision, event.type]),
      [
        [0, "RunStarted"],
        [1, "RunClaimed"],
        [2, "StepStarted"],
        [3, "StepCompleted"],
      ],
    );
    assert.ok(runEvents.every((event) => event.runId === run.id));
    const positions = runEvents.map((event) => event.position);
    assert.deepEqual(positions, [...positions].sort());
    assert.equal(runEvents[0]?.data.pipeline, "test");
    assert.deepEqual(runEvents[3]?.data.output, { patch: "diff" });
    assert.match(runEvents[0]?.occurredAt ?? "", /Z$/);

    const tail = await gqlOk<Events>(app.baseUrl, EVENTS, { runId: run.id, after: 1, first: 1 });
    assert.deepEqual(
      tail.runEvents.map((event) => event.revision),
      [2],
    );
    const none = await gqlOk<Events>(app.baseUrl, EVENTS, { runId: run.id, after: 3 });
    assert.deepEqual(none.runEvents, []);
  });

  test("NOT_FOUND for an unknown run or one of another workspace; BAD_USER_INPUT for bad bounds", async () => {
    assert.equal(await gqlErrorCode(app.baseUrl, EVENTS, { runId: newId() }), "NOT_FOUND");
    assert.equal(
      await gqlErrorCode(app.baseUrl, EVENTS, { runId: await startInOtherWorkspace() }),
      "NOT_FOUND",
    );
    const run = await start();
    assert.equal(await gqlErrorCode(app.baseUrl, EVENTS, { runId: run.id, first: 1001 }), "BAD_USER_INPUT");
    assert.equal(await gqlErrorCode(app.baseUrl, EVENTS, { runId: run.id, after: -2 }), "BAD_USER_INPUT");
  });
});

test("pipelines lists the registry with its steps", async () => {
  const { pipelines } = await gqlOk<{ pipelines: unknown }>(
    app.baseUrl,
    "{ pipelines { name description steps { id name } } }",
  );
  assert.deepEqual(pipelines, [
    {
      name: "test",
      description: "three steps, for tests",
      steps: [
        { id: "plan", name: "Plan" },
        { id: "apply", name: "Apply" },
        { id: "review", name: "Review" },
      ],
    },
    {
      name: "other",
      description: "another",
      steps: [
        { id: "plan", name: "Plan" },
        { id: "apply", name: "Apply" },
        { id: "review", name: "Review" },
      ],
    },
  ]);
});

test("a malformed query is a GraphQL error, not a masked one", async () => {
  const result = await gql(app.baseUrl, "{ runs { nope } }");
  assert.equal(result.status, 400);
  assert.match(result.errors?.[0]?.message ?? "", /Cannot query field "nope"/);
});
