import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/config/logger.js";
import { newToken } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { gql } from "../support/graphql-client.js";

const METRICS_TOKEN = "metrics-secret-for-the-log-test";
const logFile = path.join(tmpdir(), `runstream-log-secrets-${process.pid}.log`);
let app: TestApp;
const secrets: string[] = [METRICS_TOKEN];

beforeAll(async () => {
  // The app's own logger, at its most verbose, written to a file this test reads back in full.
  const logger = createLogger("trace", "log-secrets", pino.destination({ dest: logFile, sync: true }));
  app = await startTestApp({ logger, env: { METRICS_TOKEN, LOG_LEVEL: "trace" } });
  secrets.push(app.token);
});
afterAll(async () => {
  await app?.close();
  await rm(logFile, { force: true });
});

describe("secrets never reach the log", () => {
  it("the complete log of a session holds none of the secrets it used", async () => {
    const other = await newToken(app, "other", "viewer");
    secrets.push(other.secret);
    // Authorization header: ordinary, failing and unauthenticated requests.
    await gql(app.baseUrl, "{ pipelines { name } }");
    await gql(app.baseUrl, "{ run(id: 1) { nope } }", {}, other.headers);
    await gql(app.baseUrl, "{ pipelines { name } }", {}, { authorization: `Bearer ${app.token}x` });
    await gql(
      app.baseUrl,
      "{ pipelines { name } }",
      {},
      { authorization: "Bearer rst_revealed-by-a-typo-0123456789" },
    );
    secrets.push(`${app.token}x`, "rst_revealed-by-a-typo-0123456789");
    // access_token in the query string (EventSource), on a stream and on a refused request.
    const stream = await fetch(
      `${app.baseUrl}/graphql?query=${encodeURIComponent("subscription { events { type } }")}&access_token=${other.secret}`,
      { headers: { accept: "text/event-stream" }, signal: AbortSignal.timeout(500) },
    ).catch(() => null);
    await stream?.body?.cancel().catch(() => undefined);
    await fetch(`${app.baseUrl}/graphql?query=%7Bpipelines%7Bname%7D%7D&access_token=${app.token}`);
    // A single-connection reservation, whose token is a secret too, used in the URL.
    const put = await fetch(`${app.baseUrl}/graphql/stream`, { method: "PUT", headers: app.authHeaders });
    const reservation = await put.text();
    secrets.push(reservation);
    const connected = await fetch(`${app.baseUrl}/graphql/stream?token=${reservation}`, {
      headers: { accept: "text/event-stream", ...app.authHeaders },
      signal: AbortSignal.timeout(500),
    }).catch(() => null);
    await connected?.body?.cancel().catch(() => undefined);
    await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    await new Promise((resolve) => setTimeout(resolve, 200));

    const log = await readFile(logFile, "utf8");
    // The log is real and complete: it has the request lines of what was done above.
    expect(log).toMatch(/"path":"\/graphql\?query=%7Bpipelines%7Bname%7D%7D&access_token=\[REDACTED\]"/);
    expect(log).toMatch(/\/graphql\/stream\?token=\[REDACTED\]/);
    for (const secret of secrets)
      expect(log.includes(secret), `secret ${secret.slice(0, 8)}… in the log`).toBe(false);
  });
});
