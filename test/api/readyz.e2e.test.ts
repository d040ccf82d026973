import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpServer } from "../../src/api/http-server.js";
import type { AppContext } from "../../src/app/app-context.js";
import { createApiToken } from "../../src/auth/token-store.js";
import { startTestApp, type TestApp } from "../support/app.js";

let app: TestApp;
let viewerToken: string;

beforeAll(async () => {
  app = await startTestApp();
  viewerToken = (
    await createApiToken(app.ctx.prisma, { workspaceId: "default", role: "viewer", name: "readyz viewer" })
  ).secret;
});
afterAll(async () => {
  await app?.close();
});

const readyz = async (baseUrl: string, token?: string) => {
  const response = await fetch(`${baseUrl}/readyz`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, text: await response.text() };
};

describe("/readyz tells strangers the status and its cause, admins every check", () => {
  it("answers 200 and only `ready` to a caller without an admin token", async () => {
    for (const token of [undefined, viewerToken, "rst_not-a-token"]) {
      const { status, text } = await readyz(app.baseUrl, token);
      expect(status).toBe(200);
      expect(JSON.parse(text)).toEqual({ ready: true });
    }
  });

  it("gives an admin token every check with its detail", async () => {
    const { status, text } = await readyz(app.baseUrl, app.token);
    expect(status).toBe(200);
    const body = JSON.parse(text) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(body.ready).toBe(true);
    expect(Object.keys(body.checks).sort()).toEqual(["database", "eventLog", "migrations", "projections"]);
  });

  it("says `database unreachable` (not pending migrations) when the database is down, and nothing of its address", async () => {
    // Port 1 on loopback refuses connections: a database that is down.
    const deadPool = new pg.Pool({
      connectionString: "postgres://nobody@127.0.0.1:1/none",
      connectionTimeoutMillis: 500,
    });
    deadPool.on("error", () => undefined);
    const ctx: AppContext = { ...app.ctx, db: { ...app.ctx.db, pool: deadPool } };
    const server = await startHttpServer(ctx, {
      readiness: { maxProjectionLag: 1_000, checkTimeoutMs: 1_000 },
    });
    try {
      // An admin token cannot be checked against a database that is down: status only, for anyone.
      for (const token of [undefined, app.token]) {
        const { status, text } = await readyz(`http://127.0.0.1:${server.port}`, token);
        expect(status).toBe(503);
        expect(JSON.parse(text)).toEqual({ ready: false, cause: "database unreachable" });
        expect(text).not.toMatch(/127\.0\.0\.1|:1\b|ECONNREFUSED|nobody|none/);
      }
    } finally {
      await server.close();
      await deadPool.end();
    }
  });

  it("says `pending migrations` when a migration is not applied", async () => {
    const client = new pg.Client({ connectionString: app.db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; finished_at: Date }>(
        `SELECT id, finished_at FROM "_prisma_migrations" ORDER BY migration_name DESC LIMIT 1`,
      );
      await client.query(`UPDATE "_prisma_migrations" SET finished_at = NULL WHERE id = $1`, [rows[0]?.id]);
      try {
        const stranger = await readyz(app.baseUrl);
        expect(stranger.status).toBe(503);
        expect(JSON.parse(stranger.text)).toEqual({ ready: false, cause: "pending migrations" });
        const admin = JSON.parse((await readyz(app.baseUrl, app.token)).text);
        expect(admin.checks.migrations.ok).toBe(false);
        expect(admin.checks.database.ok).toBe(true);
      } finally {
        await client.query(`UPDATE "_prisma_migrations" SET finished_at = $2 WHERE id = $1`, [
          rows[0]?.id,
          rows[0]?.finished_at,
        ]);
      }
    } finally {
      await client.end();
    }
  });
});
