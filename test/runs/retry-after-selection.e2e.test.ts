import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autofixPipeline } from "../../src/pipelines/autofix-pipeline.js";
import { RUN_FIELDS, type RunJson, START_RUN } from "../api/fragments.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { gql, gqlOk } from "../support/graphql-client.js";
import { spawnWorker, stopAllWorkers } from "../worker/processes.js";

/**
 * Issue #15 as a user meets it, through the API with a real worker process: an autofix run completes
 * with alternative 0; retrying `generate` on the COMPLETED run is refused as documented, resuming from
 * `generate` re-executes it and `apply`, and the run ends with `apply` patched from alternative 1.
 */
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ pipelines: [autofixPipeline()] });
  const worker = spawnWorker(app.db.url, {
    LEASE_MS: "2000",
    HEARTBEAT_MS: "200",
    WORKER_POLL_MS: "200",
    WORKER_CONCURRENCY: "2",
  });
  await worker.ready;
});
afterAll(async () => {
  await stopAllWorkers();
  await app?.close();
});

const RUN = `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`;
const SELECT = `mutation($runId: ID!, $stepId: ID!, $index: Int!) {
  selectAlternative(runId: $runId, stepId: $stepId, index: $index) { ${RUN_FIELDS} } }`;
const RETRY = `mutation($runId: ID!, $stepId: ID!) { retryStep(runId: $runId, stepId: $stepId) { ${RUN_FIELDS} } }`;
const RESUME = `mutation($runId: ID!, $stepId: ID!) { resumeFromStep(runId: $runId, stepId: $stepId) { ${RUN_FIELDS} } }`;

type Plan = { choices: { varKeyword: string } };
type Applied = { files: { path: string; content: string }[] };
const files = [{ path: "src/counter.js", content: "var count = 0;\nvar step = 2;\ncount += step;\n" }];

async function waitForStatus(runId: string, status: string, timeoutMs = 30_000): Promise<RunJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { run } = await gqlOk<{ run: RunJson }>(app.baseUrl, RUN, { id: runId });
    if (run.status === status) return run;
    if (Date.now() > deadline)
      throw new Error(`run ${runId} is ${run.status}, not ${status}: ${JSON.stringify(run)}`);
    await sleep(100);
  }
}

const stepOf = (run: RunJson, id: string) => run.steps.find((step) => step.id === id);
/** The content of the first file `apply` patched. */
const patchedBy = (run: RunJson) => (stepOf(run, "apply")?.output as Applied | undefined)?.files[0]?.content;
const varKeywordOf = (run: RunJson, index: number) =>
  ((stepOf(run, "generate")?.alternatives ?? []) as Plan[])[index]?.choices.varKeyword;

describe("retrying a step of a COMPLETED run", () => {
  it("is refused naming resumeFromStep; resuming re-executes apply from the new selection", async () => {
    const { startRun } = await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, {
      pipeline: "autofix",
      input: { files },
    });
    let run = await waitForStatus(startRun.id, "AWAITING_INPUT");
    expect(varKeywordOf(run, 0)).toBe("const-when-safe");
    await gqlOk(app.baseUrl, SELECT, { runId: run.id, stepId: "generate", index: 0 });
    run = await waitForStatus(run.id, "COMPLETED");
    const firstPatch = patchedBy(run);
    expect(firstPatch).toContain("const step = 2;");

    const refused = await gql(app.baseUrl, RETRY, { runId: run.id, stepId: "generate" });
    expect(refused.errors?.[0]?.extensions?.code).toBe("INVALID_STATE");
    expect(refused.errors?.[0]?.message).toMatch(/COMPLETED.*resumeFromStep\(generate\)/);
    const unchanged = await gqlOk<{ run: RunJson }>(app.baseUrl, RUN, { id: run.id });
    expect(unchanged.run.revision, "the refusal changed nothing").toBe(run.revision);

    const { resumeFromStep } = await gqlOk<{ resumeFromStep: RunJson }>(app.baseUrl, RESUME, {
      runId: run.id,
      stepId: "generate",
    });
    expect(resumeFromStep.status).toBe("RUNNING");
    for (const id of ["generate", "apply"]) {
      expect(stepOf(resumeFromStep, id)).toMatchObject({
        status: "PENDING",
        attempt: 2,
        output: null,
        selectedIndex: null,
      });
    }
    run = await waitForStatus(run.id, "AWAITING_INPUT");
    expect(varKeywordOf(run, 1)).toBe("let");
    await gqlOk(app.baseUrl, SELECT, { runId: run.id, stepId: "generate", index: 1 });
    run = await waitForStatus(run.id, "COMPLETED");

    expect(stepOf(run, "generate")).toMatchObject({ attempt: 2, selectedIndex: 1 });
    expect(stepOf(run, "apply")).toMatchObject({ status: "COMPLETED", attempt: 2 });
    const patch = patchedBy(run);
    expect(patch).toContain("let step = 2;");
    expect(patch).not.toContain("const");
  });

  it("retrying generate while the run waits for a selection re-executes generate, then apply", async () => {
    const { startRun } = await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, {
      pipeline: "autofix",
      input: { files },
    });
    await waitForStatus(startRun.id, "AWAITING_INPUT");
    const { retryStep } = await gqlOk<{ retryStep: RunJson }>(app.baseUrl, RETRY, {
      runId: startRun.id,
      stepId: "generate",
    });
    expect(retryStep.status).toBe("RUNNING");
    expect(stepOf(retryStep, "generate")).toMatchObject({
      status: "PENDING",
      attempt: 2,
      alternatives: null,
    });
    await waitForStatus(startRun.id, "AWAITING_INPUT");
    await gqlOk(app.baseUrl, SELECT, { runId: startRun.id, stepId: "generate", index: 1 });
    const run = await waitForStatus(startRun.id, "COMPLETED");
    expect(stepOf(run, "apply")).toMatchObject({ status: "COMPLETED", attempt: 1 });
    expect(patchedBy(run)).toContain("let step = 2;");
  });
});

describe("startRun with an idempotency key", () => {
  it("the same key and request return the same run; another input or pipeline under it is a CONFLICT", async () => {
    const key = `idem-${Date.now()}`;
    const first = await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, {
      pipeline: "autofix",
      input: { files },
      key,
    });
    const again = await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, {
      pipeline: "autofix",
      input: { files },
      key,
    });
    expect(again.startRun.id).toBe(first.startRun.id);
    const other = await gql(app.baseUrl, START_RUN, {
      pipeline: "autofix",
      input: { files: [{ path: "b.js", content: "var b = 1;\n" }] },
      key,
    });
    expect(other.errors?.[0]?.extensions?.code).toBe("CONFLICT");
    expect(other.errors?.[0]?.message).toMatch(/idempotencyKey .* was already used .* another input/);
    expect(other.data).toBeNull();
  });
});
