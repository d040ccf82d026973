import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, test } from "vitest";
import { revokeApiToken } from "../../src/auth/token-store.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { as, codeOf, newToken, payload, subscribe } from "./support.js";

let app: TestApp;
let runId: string;
const RUN_EVENTS = `subscription($runId: ID!) { runEvents(runId: $runId) { revision } }`;

beforeAll(async () => {
  app = await startTestApp({ env: { AUTH_RECHECK_MS: "200" } });
  runId = (
    await as<{ startRun: { id: string } }>(
      app,
      app.authHeaders,
      `mutation { startRun(pipeline: "test", input: { repo: "r" }) { id } }`,
    )
  ).data?.startRun.id as string;
});
afterAll(async () => {
  await app?.close();
});

test("revoking a token ends its open streams (POST and GET transports) with UNAUTHENTICATED", async () => {
  const token = await newToken(app, "default", "viewer");
  const bystander = await newToken(app, "default", "viewer");
  const streams = [
    await subscribe(app.baseUrl, RUN_EVENTS, { runId }, { headers: token.headers }),
    await subscribe(app.baseUrl, RUN_EVENTS, { runId }, { method: "GET", accessToken: token.secret }),
  ];
  const other = await subscribe(app.baseUrl, RUN_EVENTS, { runId }, { headers: bystander.headers });
  for (const stream of [...streams, other]) assert.equal(payload(await stream.next())?.errors, undefined);
  const revokedAt = Date.now();
  await revokeApiToken(app.ctx.prisma, token.id);
  for (const stream of streams) {
    assert.equal(payload(await stream.next(3_000))?.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    assert.equal((await stream.next())?.event, "complete");
    stream.close();
  }
  assert.ok(Date.now() - revokedAt < 2_000, "within a few re-check ticks");
  // Another token's stream goes on, and the revoked token cannot open a new one.
  await assert.rejects(other.next(400), /no SSE message/);
  other.close();
  assert.equal(codeOf(await as(app, token.headers, "{ pipelines { name } }")), "UNAUTHENTICATED");
});

const run = promisify(execFile);
const admin = (...args: string[]) =>
  run(process.execPath, ["--import", "tsx", "src/admin/cli.ts", ...args], {
    env: { ...process.env, DATABASE_URL: app.db.url, LOG_LEVEL: "silent" },
  });

test("npm run admin -- tokens create / list / revoke", async () => {
  const created = await admin(
    "tokens",
    "create",
    "--workspace",
    "cli-ws",
    "--role",
    "operator",
    "--name",
    "ci bot",
  );
  const secret = created.stdout.trim().split("\n").at(-1) as string;
  const id = /created token (\S+)/.exec(created.stdout)?.[1] as string;
  assert.match(secret, /^rst_/);
  const headers = { authorization: `Bearer ${secret}` };
  assert.equal((await as(app, headers, "{ runs { edges { node { id } } } }")).errors, undefined);
  const listed = JSON.parse((await admin("tokens", "list", "--json")).stdout) as {
    id: string;
    role: string;
  }[];
  assert.equal(listed.find((token) => token.id === id)?.role, "operator");
  assert.doesNotMatch(JSON.stringify(listed), /rst_|secret/i, "secrets and their hashes are never listed");
  await admin("tokens", "revoke", id);
  assert.equal(codeOf(await as(app, headers, "{ pipelines { name } }")), "UNAUTHENTICATED");
  await assert.rejects(
    admin("tokens", "revoke", "no-such-token"),
    (error: { code?: number }) => error.code === 2,
  );
  await assert.rejects(
    admin("tokens", "create", "--workspace", "w", "--role", "root", "--name", "x"),
    (error: { code?: number; stderr?: string }) =>
      error.code === 2 && /viewer, operator, admin/.test(error.stderr ?? ""),
  );
});
