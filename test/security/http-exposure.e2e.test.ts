import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { originAllowed } from "../../src/api/origin-policy.js";
import { startTestApp, type TestApp } from "../support/app.js";

const METRICS_TOKEN = "metrics-secret-0123456789";
const ALLOWED = "https://console.example.com";

let app: TestApp;
let separate: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { CORS_ORIGINS: ALLOWED, METRICS_TOKEN } });
  separate = await startTestApp({ env: { METRICS_PORT: "0" } });
});
afterAll(async () => {
  await app?.close();
  await separate?.close();
});

const query = (origin: string | null, method = "POST") =>
  fetch(`${app.baseUrl}/graphql`, {
    method,
    headers: {
      ...app.authHeaders,
      "content-type": "application/json",
      ...(origin ? { origin } : {}),
      ...(method === "OPTIONS"
        ? { "access-control-request-method": "POST", "access-control-request-headers": "authorization" }
        : {}),
    },
    ...(method === "POST" ? { body: JSON.stringify({ query: "{ pipelines { name } }" }) } : {}),
  });

describe("origin policy (CORS_ORIGINS)", () => {
  it("gives a stranger's page no CORS header (the browser keeps the answer from it), preflight included", async () => {
    for (const method of ["POST", "OPTIONS"]) {
      const response = await query("https://evil.example", method);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    }
  });

  it("allows a listed origin exactly, without credentials", async () => {
    const preflight = await query(ALLOWED, "OPTIONS");
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    const response = await query(ALLOWED);
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("allows http://localhost:* outside production only", async () => {
    const response = await query("http://localhost:5173");
    expect(response.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    const production = { CORS_ORIGINS: [], NODE_ENV: "production" as const };
    expect(originAllowed(production, "http://localhost:5173")).toBe(false);
    expect(originAllowed({ ...production, CORS_ORIGINS: [ALLOWED] }, ALLOWED)).toBe(true);
    expect(
      originAllowed({ CORS_ORIGINS: [], NODE_ENV: "development" }, "http://localhost.evil.example"),
    ).toBe(false);
  });

  it("keeps same-origin use working: requests without Origin and GraphiQL", async () => {
    expect((await query(null)).status).toBe(200);
    const page = await fetch(`${app.baseUrl}/graphql`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/graphiql/i);
  });
});

describe("/metrics", () => {
  it("needs METRICS_TOKEN when it is set", async () => {
    expect((await fetch(`${app.baseUrl}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const scraped = await fetch(`${app.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/runstream_/);
  });

  it("moves to METRICS_PORT when it is set, and leaves the API's port", async () => {
    const port = separate.server.metricsPort;
    expect(port).toBeGreaterThan(0);
    const scraped = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/runstream_/);
    expect((await fetch(`${separate.baseUrl}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/graphql`)).status).toBe(404);
  });
});

/**
 * Announces a 100 MB body and sends 64 KB of it: resolves with the status once the server hangs up,
 * which a server still waiting for (reading) the rest of the body never does.
 */
function getWithHugeBody(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<number>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const chunk = Buffer.alloc(64 * 1024, "x");
    socket.on("connect", () => {
      const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000\r\n${extra.join("")}\r\n`);
      socket.write(chunk);
    });
    socket.on("data", (data) => {
      received += data.toString("latin1");
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]);
      if (!status) reject(new Error(`no answer: ${received}`));
      else resolve(status);
    });
    setTimeout(() => reject(new Error("the server kept reading the body")), 10_000).unref();
  });
}

describe("GET-only endpoints ignore request bodies", () => {
  it("answers /healthz, /readyz and /metrics at once and hangs up instead of reading 100 MB", async () => {
    for (const [path, headers] of [
      ["/healthz", {}],
      ["/readyz", {}],
      ["/metrics", { authorization: `Bearer ${METRICS_TOKEN}` }],
    ] as const) {
      const started = performance.now();
      const status = await getWithHugeBody(app.server.port, path, headers);
      expect(status, path).toEqual(path === "/readyz" ? expect.any(Number) : 200);
      expect(performance.now() - started, path).toBeLessThan(5_000);
    }
  });

  it("keeps the connection of an ordinary GET alive", async () => {
    const keptAlive = await new Promise<string | undefined>((resolve, reject) => {
      request(`${app.baseUrl}/healthz`, (response) => {
        response.resume();
        resolve(response.headers.connection);
      })
        .on("error", reject)
        .end();
    });
    expect(keptAlive).not.toBe("close");
  });
});
