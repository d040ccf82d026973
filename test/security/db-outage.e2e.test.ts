import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StreamingApp, startStreamingApp } from "../streaming/support/streaming-app.js";
import { gql } from "../support/graphql-client.js";

let app: StreamingApp;
beforeAll(async () => {
  app = await startStreamingApp({ env: { UNAVAILABLE_RETRY_AFTER_MS: "3000" } });
});
afterAll(async () => {
  await app?.close();
});

const QUERY = `{ runs(first: 5) { edges { node { id } } } }`;
const MUTATION = `mutation { startRun(pipeline: "none", input: {}) { id } }`;

describe("during a database outage", () => {
  it("queries and mutations fail fast with UNAVAILABLE, HTTP 503 and retryAfterMs; then recover by themselves", async () => {
    expect((await gql(app.baseUrl, QUERY, {}, app.headers)).errors).toBeUndefined();
    await app.proxy.down();
    try {
      for (const operation of [QUERY, MUTATION, QUERY]) {
        const started = performance.now();
        const answer = await gql(app.baseUrl, operation, {}, app.headers);
        const elapsedMs = performance.now() - started;
        expect(answer.status, operation).toBe(503);
        expect(answer.headers.get("retry-after")).toBe("3");
        const error = answer.errors?.[0];
        expect(error?.extensions?.code).toBe("UNAVAILABLE");
        expect(error?.extensions?.retryAfterMs).toBe(3_000);
        expect(error?.extensions?.correlationId).toEqual(expect.any(String));
        // Nothing about the database (host, port, driver text) reaches the client.
        expect(JSON.stringify(answer.errors)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|terminated|5432/);
        expect(elapsedMs, operation).toBeLessThan(6_000);
      }
    } finally {
      await app.proxy.up();
    }
    // Back without a restart.
    const deadline = Date.now() + 10_000;
    let answer = await gql(app.baseUrl, QUERY, {}, app.headers);
    while (answer.errors && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      answer = await gql(app.baseUrl, QUERY, {}, app.headers);
    }
    expect(answer.status).toBe(200);
    expect(answer.errors).toBeUndefined();
  });
});
