import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "../../src/auth/token-store.js";
import { buildConsole } from "../../src/console/build-console.js";
import { RUN_FIELDS, type RunJson, START_RUN } from "../api/fragments.js";
import { claim, completeStep, drive, produceAlternatives, startStep } from "../api/worker-driver.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { gql, gqlOk } from "../support/graphql-client.js";

/** What the console needs of the API besides the contract: time travel, offered commands, caller, lag. */

let app: TestApp;
let viewer: Record<string, string>;
let stranger: Record<string, string>;
let runId: string;
let latest: number;

const RUN_AT = `query ($id: ID!, $at: Int) { run(id: $id, atRevision: $at) { ${RUN_FIELDS} allowedCommands { command stepId } stale } }`;
type RunAt = RunJson & { allowedCommands: { command: string; stepId: string | null }[]; stale: boolean };

const bearer = async (workspaceId: string, role: string) => ({
  authorization: `Bearer ${(await createApiToken(app.ctx.prisma, { workspaceId, role, name: role })).secret}`,
});

beforeAll(async () => {
  app = await startTestApp();
  viewer = await bearer("default", "viewer");
  stranger = await bearer("elsewhere", "admin");
  runId = (
    await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, { pipeline: "test", input: { repo: "r" } })
  ).startRun.id;
  await drive(app.ctx, runId, [
    claim(),
    startStep("plan"),
    completeStep("plan", { planned: true }),
    startStep("apply"),
    produceAlternatives("apply", [{ option: "a" }, { option: "b" }]),
  ]);
  latest = (await gqlOk<{ run: RunJson }>(app.baseUrl, RUN_AT, { id: runId, at: null })).run.revision;
});

afterAll(async () => {
  await app?.close();
});

describe("run(id, atRevision): time travel", () => {
  it("answers the run as it was after each revision, folded from its events", async () => {
    expect(latest).toBe(5);
    const at = async (revision: number) =>
      (await gqlOk<{ run: RunAt }>(app.baseUrl, RUN_AT, { id: runId, at: revision })).run;
    const statuses = async (revision: number) => (await at(revision)).steps.map((step) => step.status);

    const started = await at(0);
    expect(started.status).toBe("PENDING");
    expect(started.revision).toBe(0);
    expect(await statuses(0)).toEqual(["PENDING", "PENDING", "PENDING"]);
    expect(await statuses(2)).toEqual(["RUNNING", "PENDING", "PENDING"]);
    const planned = await at(3);
    expect(planned.steps[0]).toMatchObject({ status: "COMPLETED", output: { planned: true } });
    expect(planned.phase).toBeNull();
    expect(await statuses(4)).toEqual(["COMPLETED", "RUNNING", "PENDING"]);
  });

  it("agrees with the read model at the latest revision (same evolve), offering no command", async () => {
    const { run: past } = await gqlOk<{ run: RunAt }>(app.baseUrl, RUN_AT, { id: runId, at: latest });
    const { run: now } = await gqlOk<{ run: RunAt }>(app.baseUrl, RUN_AT, { id: runId, at: null });
    const { allowedCommands: pastCommands, ...pastRun } = past;
    const { allowedCommands: nowCommands, ...nowRun } = now;
    expect(pastRun).toEqual(nowRun);
    expect(pastCommands).toEqual([]);
    expect(nowCommands.length).toBeGreaterThan(0);
  });

  it("refuses a revision the run has not reached, or a negative one, and hides other workspaces' runs", async () => {
    const beyond = await gql(app.baseUrl, RUN_AT, { id: runId, at: latest + 1 });
    expect(beyond.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const negative = await gql(app.baseUrl, RUN_AT, { id: runId, at: -1 });
    expect(negative.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const hidden = await gql(app.baseUrl, RUN_AT, { id: runId, at: 0 }, stranger);
    expect(hidden.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const missing = await gql(app.baseUrl, RUN_AT, { id: "no-such-run", at: 0 });
    expect(missing.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });
});

describe("Run.allowedCommands and Run.stale", () => {
  it("offers what the decider accepts now: the selection, the cancel, retry/resume where allowed", async () => {
    const { run } = await gqlOk<{ run: RunAt }>(app.baseUrl, RUN_AT, { id: runId, at: null });
    const offered = run.allowedCommands.map(({ command, stepId }) => `${command}:${stepId ?? ""}`);
    expect(offered).toContain("SELECT_ALTERNATIVE:apply");
    expect(offered).toContain("CANCEL_RUN:");
    expect(offered).not.toContain("RERUN_RUN:");
    expect(offered).not.toContain("FAIL_STALE_RUN:");
    // review never ran: nothing to retry there, and no alternatives to select.
    expect(offered).not.toContain("RETRY_STEP:review");
    expect(offered).not.toContain("SELECT_ALTERNATIVE:review");
    expect(run.stale).toBe(false);
    // Every offered command is accepted (the first one that changes the state is tried last).
    const cancel = await gql(app.baseUrl, "mutation ($id: ID!) { cancelRun(runId: $id) { status } }", {
      id: runId,
    });
    expect(cancel.errors).toBeUndefined();
    const { run: cancelled } = await gqlOk<{ run: RunAt }>(app.baseUrl, RUN_AT, { id: runId, at: null });
    expect(cancelled.allowedCommands.map((offer) => offer.command)).toContain("RERUN_RUN");
    expect(cancelled.allowedCommands.map((offer) => offer.command)).not.toContain("CANCEL_RUN");
  });

  it("flags a run whose worker's lease ran out as stale and offers failStaleRun, which then succeeds", async () => {
    const id = (
      await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, { pipeline: "test", input: { repo: "s" } })
    ).startRun.id;
    await drive(app.ctx, id, [claim(1), startStep("plan")]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const { run } = await gqlOk<{ run: RunAt }>(app.baseUrl, RUN_AT, { id, at: null });
    expect(run.stale).toBe(true);
    expect(run.allowedCommands).toContainEqual({ command: "FAIL_STALE_RUN", stepId: null });
    const failed = await gqlOk<{ failStaleRun: { status: string } }>(
      app.baseUrl,
      "mutation ($id: ID!) { failStaleRun(runId: $id) { status } }",
      { id },
    );
    expect(failed.failStaleRun.status).toBe("FAILED");
  });

  it("offers nothing to a viewer token", async () => {
    const { data } = await gql<{ run: RunAt }>(app.baseUrl, RUN_AT, { id: runId, at: null }, viewer);
    expect(data?.run.allowedCommands).toEqual([]);
  });
});

describe("caller and projectionStatus", () => {
  it("tells the token who it is and whether it may send commands", async () => {
    const query = "{ caller { workspaceId role mayCommand } }";
    expect((await gqlOk<{ caller: unknown }>(app.baseUrl, query)).caller).toEqual({
      workspaceId: "default",
      role: "admin",
      mayCommand: true,
    });
    expect((await gql<{ caller: unknown }>(app.baseUrl, query, {}, viewer)).data?.caller).toEqual({
      workspaceId: "default",
      role: "viewer",
      mayCommand: false,
    });
  });

  it("shows the projections' lag to admins only", async () => {
    const query = "{ projectionStatus { name version lag } }";
    const { projectionStatus } = await gqlOk<{ projectionStatus: { name: string; lag: number }[] }>(
      app.baseUrl,
      query,
    );
    expect(projectionStatus.map((projection) => projection.name)).toContain("runs");
    const refused = await gql(app.baseUrl, query, {}, viewer);
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("GET /console", () => {
  beforeAll(async () => {
    await buildConsole();
  });

  it("serves the built page same-origin only, with no inline script allowed", async () => {
    const page = await fetch(`${app.baseUrl}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('src="app.js"');
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    const script = await fetch(`${app.baseUrl}/console/app.js`);
    expect(script.headers.get("content-type")).toContain("javascript");
    expect((await script.text()).length).toBeGreaterThan(1_000);
  });

  it("redirects /console, refuses other files and methods", async () => {
    const bare = await fetch(`${app.baseUrl}/console`, { redirect: "manual" });
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe("/console/");
    expect((await fetch(`${app.baseUrl}/console/../package.json`)).status).not.toBe(200);
    expect((await fetch(`${app.baseUrl}/console/secret.txt`)).status).toBe(404);
    expect((await fetch(`${app.baseUrl}/console/`, { method: "POST" })).status).toBe(405);
  });
});
