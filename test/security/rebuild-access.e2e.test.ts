import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rebuildLock } from "../../src/projections/rebuild-lock.js";
import { as, codeOf, newToken, type TestToken } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";

const REBUILD = `mutation { rebuildProjections(names: ["runs"]) { projections eventsReplayed } }`;

let app: TestApp;
let system: TestToken;
beforeAll(async () => {
  app = await startTestApp();
  system = await newToken(app, "ops", "system");
});
afterAll(async () => {
  await app?.close();
});

describe("rebuildProjections is process-wide: system tokens only, one at a time", () => {
  it("refuses every workspace role, admin included, before anything runs", async () => {
    for (const role of ["viewer", "operator", "admin"]) {
      const token = await newToken(app, "default", role);
      const response = await as(app, token.headers, REBUILD);
      expect(codeOf(response), role).toBe("FORBIDDEN");
      expect(response.status).toBe(403);
    }
  });

  it("lets a system token rebuild", async () => {
    const response = await as<{ rebuildProjections: { projections: string[] } }>(
      app,
      system.headers,
      REBUILD,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data?.rebuildProjections.projections).toEqual(["runs"]);
  });

  it("tells a second caller that a rebuild is running, with its progress, and runs none", async () => {
    // A rebuild in progress in this process (the lock the mutation takes), 40 of 100 events in.
    const running = rebuildLock.claim(["runs"]);
    if ("busy" in running) throw new Error("no rebuild should be running");
    running.progress({ projection: "runs", replayed: 40, total: 100 });
    try {
      const response = await as(app, system.headers, REBUILD);
      expect(codeOf(response)).toBe("CONFLICT");
      expect(response.errors?.[0]?.message).toMatch(/already running: runs .*40 of 100 events/);
      expect(response.errors?.[0]?.extensions?.rebuilding).toEqual([
        expect.objectContaining({ projection: "runs", replayed: 40, total: 100 }),
      ]);
    } finally {
      running.release();
    }
    const after = await as(app, system.headers, REBUILD);
    expect(after.errors).toBeUndefined();
  });

  it("two rebuilds asked at once: one runs, the other is told it is running", async () => {
    const answers = await Promise.all([as(app, system.headers, REBUILD), as(app, system.headers, REBUILD)]);
    const codes = answers.map((answer) => codeOf(answer) ?? "ok").sort();
    // Both may also succeed one after the other when the first ends before the second arrives.
    expect([
      ["CONFLICT", "ok"],
      ["ok", "ok"],
    ]).toContainEqual(codes);
    expect(rebuildLock.status()).toEqual([]);
  });
});
