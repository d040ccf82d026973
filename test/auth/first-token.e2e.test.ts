import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpServer } from "../../src/api/http-server.js";
import { type AppContext, openAppContext } from "../../src/app/app-context.js";
import { revokeApiToken } from "../../src/auth/token-store.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/config/logger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

/**
 * The first-token step of docker-compose.yml (`init` service): the same command, run against a fresh
 * database as the compose stack does it, before a production API that refuses to start without a token.
 */
const run = promisify(execFile);

let db: TestDatabase;
let ctx: AppContext;
let dir: string;

/** `npm run admin -- tokens ensure --secret-file <file>`, as the compose file runs it. */
async function ensure(secret: string | null, ...extra: string[]) {
  const file = path.join(dir, `secret-${Math.random().toString(36).slice(2)}`);
  if (secret !== null) await writeFile(file, `${secret}\n`);
  return run("npm", ["run", "--silent", "admin", "--", "tokens", "ensure", "--secret-file", file, ...extra], {
    env: { ...process.env, NODE_ENV: "production", DATABASE_URL: db.url, LOG_LEVEL: "warn" },
  }).then(
    ({ stdout }) => ({ code: 0, out: stdout }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      out: `${error.stdout}${error.stderr}`,
    }),
  );
}

const graphql = (port: number, secret: string) =>
  fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ query: "{ pipelines { name } }" }),
  });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "runstream-first-token-"));
  db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: "production",
    LOG_LEVEL: "silent",
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_URL: db.url,
  });
  ctx = await openAppContext(config, createLogger("silent", "first-token-test"));
});
afterAll(async () => {
  await ctx?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("first token from an operator-chosen secret (tokens ensure)", () => {
  const secret = `rst_${"k".repeat(20)}${Date.now()}`;

  it("refuses an empty or missing secret and a short one, creating nothing", async () => {
    const missing = await ensure(null);
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(/ADMIN_TOKEN/);
    expect((await ensure("")).code).toBe(2);
    const short = await ensure("rst_short");
    expect(short.code).toBe(2);
    expect(short.out).toMatch(/32 to 512/);
    expect(await ctx.prisma.apiToken.count()).toBe(0);
  });

  it("creates the admin token once; running it again keeps it; production then starts and accepts it", async () => {
    const first = await ensure(secret);
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toMatch(/^created token/);
    const again = await ensure(secret);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^kept existing token/);
    const tokens = await ctx.prisma.apiToken.findMany();
    expect(tokens.map((token) => [token.role, token.workspaceId])).toEqual([["admin", "default"]]);

    const server = await startHttpServer(ctx, { closeGraceMs: 100 });
    try {
      expect((await graphql(server.port, secret)).status).toBe(200);
      expect((await graphql(server.port, `${secret}x`)).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it("a revoked secret is not brought back by running the step again", async () => {
    const [token] = await ctx.prisma.apiToken.findMany();
    await revokeApiToken(ctx.prisma, token?.id as string);
    const after = await ensure(secret);
    expect(after.code).toBe(2);
    expect(after.out).toMatch(/was revoked/);
    expect(await ctx.prisma.apiToken.count({ where: { revokedAt: null } })).toBe(0);
  });
});
