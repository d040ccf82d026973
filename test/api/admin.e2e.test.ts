import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import { createApiToken } from "../../src/auth/token-store.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { gqlErrorCode, gqlOk, setDefaultHeaders } from "../support/graphql-client.js";
import { RUN_FIELDS, type RunJson, START_RUN } from "./fragments.js";
import { drive, failOnApply } from "./worker-driver.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
  // Rebuilds are process-wide: they need a system token (made by the CLI, here straight in the database).
  const { secret } = await createApiToken(app.ctx.prisma, {
    workspaceId: "default",
    role: "system",
    name: "ops",
  });
  setDefaultHeaders(app.baseUrl, { authorization: `Bearer ${secret}` });
});
afterAll(async () => {
  await app?.close();
});

const REBUILD = `mutation($names: [String!]) { rebuildProjections(names: $names) { projections eventsReplayed durationMs } }`;
type Rebuild = { rebuildProjections: { projections: string[]; eventsReplayed: number; durationMs: number } };

test("rebuildProjections replays the store and leaves the read model as it was", async () => {
  const runs: RunJson[] = [];
  for (let i = 0; i < 3; i++) {
    runs.push(
      (await gqlOk<{ startRun: RunJson }>(app.baseUrl, START_RUN, { pipeline: "test", input: { repo: "r" } }))
        .startRun,
    );
  }
  await drive(app.ctx, runs[0]?.id as string, failOnApply());
  const read = async () =>
    (
      await gqlOk<{ runs: { edges: { node: RunJson }[] } }>(
        app.baseUrl,
        `{ runs(first: 10) { edges { node { ${RUN_FIELDS} } } } }`,
      )
    ).runs.edges.map((edge) => edge.node);
  const before = await read();

  const all = await gqlOk<Rebuild>(app.baseUrl, REBUILD, { names: null });
  const names = all.rebuildProjections.projections;
  assert.ok(names.length >= 1);
  // 3 starts + the 6 events of a claimed, partly executed and failed run.
  assert.equal(all.rebuildProjections.eventsReplayed, 3 + 6);
  assert.ok(all.rebuildProjections.durationMs >= 0);
  assert.deepEqual(await read(), before);

  const one = await gqlOk<Rebuild>(app.baseUrl, REBUILD, { names: [names[0]] });
  assert.deepEqual(one.rebuildProjections.projections, [names[0]]);
});

test("rebuildProjections rejects an unknown projection with BAD_USER_INPUT", async () => {
  assert.equal(await gqlErrorCode(app.baseUrl, REBUILD, { names: ["no-such-projection"] }), "BAD_USER_INPUT");
});
