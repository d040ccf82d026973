/**
 * Many SSE subscribers in one process, apart from the server: raw `http` requests with
 * `Accept: text/event-stream` (no client library: 5,000 of them must stay cheap). Each event's
 * `message` carries `t=<append time, epoch ms> k=<sequence>`; a receive compares `t` with its own
 * clock (same machine) for the delivery latency, and `k` with the previous one for gaps.
 *
 * Messages (see child.ts): `open` → `opened`; `await` → `seen` (every connection got event `k`);
 * `start` → `started` and `finish` → `finished` (latencies between the two); `close` → `closed`.
 */
import http from "node:http";
import { serveParent } from "./child.js";

interface Connection {
  request: http.ClientRequest;
  lastK: number;
  /** Unfinished SSE text: an event split over two chunks. */
  rest: string;
  open: boolean;
  /** The stream's latest text (up to 300 characters), kept for the log when the server closes it. */
  tail: string;
}

const connections: Connection[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
let latencies: number[] = [];
let measuring = false;
let irregular = 0;
let dropped = 0;
let received = 0;
/** The last text of a stream that the server closed, to say why in the bench log. */
let closedSample: string | null = null;
const MESSAGE = /"message":"t=(\d+) k=(\d+)"/g;

function onText(connection: Connection, chunk: string): void {
  const text = connection.rest + chunk;
  const end = text.lastIndexOf("\n\n");
  if (end < 0) {
    connection.rest = text;
    return;
  }
  connection.rest = text.slice(end + 2);
  const now = Date.now();
  for (const match of text.slice(0, end).matchAll(MESSAGE)) {
    const k = Number(match[2]);
    if (connection.lastK >= 0 && k !== connection.lastK + 1) irregular++;
    connection.lastK = k;
    received++;
    if (measuring) latencies.push(now - Number(match[1]));
  }
}

interface OpenSpec {
  /** POST sends `body`; GET puts the same parameters in the query string (as EventSource does). */
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body: string;
  /** When given, connection i sends bodies[i % bodies.length] instead of `body` (many streams). */
  bodies?: string[];
  count: number;
  concurrency: number;
  timeoutMs: number;
}

/** GraphQL over HTTP's GET form of a POST body: each parameter URL-encoded, objects as JSON. */
function getParameters(body: string): string {
  const parameters = JSON.parse(body) as Record<string, unknown>;
  return new URLSearchParams(
    Object.entries(parameters).map(([key, value]) => [
      key,
      typeof value === "string" ? value : JSON.stringify(value),
    ]),
  ).toString();
}

/** Resolves with null once the response is a 200 event stream, or with what went wrong. */
function openOne(spec: OpenSpec, index: number): Promise<string | null> {
  const body = spec.bodies?.[index % spec.bodies.length] ?? spec.body;
  return new Promise((resolve) => {
    const connection: Connection = { request: null as never, lastK: -1, rest: "", open: false, tail: "" };
    const timer = setTimeout(() => {
      request.destroy();
      resolve("timed out");
    }, spec.timeoutMs);
    const url = spec.method === "GET" ? `${spec.url}?${getParameters(body)}` : spec.url;
    const request = http.request(url, {
      method: spec.method,
      // Keep-alive as browsers do; one socket per stream, since each one stays busy.
      agent,
      headers: {
        ...(spec.method === "POST" ? { "content-type": "application/json" } : {}),
        accept: "text/event-stream",
        ...spec.headers,
      },
    });
    connection.request = request;
    request.on("error", (error) => {
      clearTimeout(timer);
      if (connection.open) {
        connection.open = false;
        dropped++;
      }
      resolve(error.message);
    });
    request.on("response", (response) => {
      clearTimeout(timer);
      response.setEncoding("latin1");
      if (response.statusCode !== 200 || !String(response.headers["content-type"]).includes("event-stream")) {
        let body = "";
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () => resolve(`${response.statusCode}: ${body.slice(0, 300)}`));
        return;
      }
      connection.open = true;
      connections.push(connection);
      response.on("data", (chunk: string) => {
        connection.tail = (connection.tail + chunk).slice(-300);
        onText(connection, chunk);
      });
      response.on("close", () => {
        if (connection.open) {
          connection.open = false;
          dropped++;
          closedSample ??= connection.tail;
        }
      });
      resolve(null);
    });
    request.end(spec.method === "POST" ? body : undefined);
  });
}

async function open(spec: OpenSpec) {
  const started = performance.now();
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < spec.count) {
      const index = next++;
      const error = await openOne(spec, index);
      if (error) errors.push(error);
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.count) }, worker));
  return {
    type: "opened",
    ok: spec.count - errors.length,
    failed: errors.length,
    errorSamples: [...new Set(errors)].slice(0, 3),
    ms: performance.now() - started,
  };
}

/** Resolves when every open connection has received event `k` (or after `timeoutMs`). */
async function awaitEvent(k: number, timeoutMs: number) {
  const started = performance.now();
  const behind = () => connections.filter((c) => c.open && c.lastK < k).length;
  while (behind() > 0 && performance.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    type: "seen",
    open: connections.filter((c) => c.open).length,
    behind: behind(),
    closedSample,
    ms: performance.now() - started,
  };
}

function summary() {
  const sorted = Float64Array.from(latencies).sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted.at(-1),
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

let cpuAtStart = process.cpuUsage();
let startedAt = performance.now();

serveParent(async (message) => {
  switch (message.type) {
    case "open":
      return open(message as unknown as OpenSpec & { type: string });
    case "await":
      return awaitEvent(Number(message.k), Number(message.timeoutMs ?? 30_000));
    case "start":
      latencies = [];
      irregular = 0;
      dropped = 0;
      received = 0;
      measuring = true;
      cpuAtStart = process.cpuUsage();
      startedAt = performance.now();
      return { type: "started" };
    case "finish": {
      measuring = false;
      const cpu = process.cpuUsage(cpuAtStart);
      const seconds = (performance.now() - startedAt) / 1_000;
      return {
        type: "finished",
        latency: summary(),
        received,
        irregular,
        dropped,
        closedSample,
        open: connections.filter((c) => c.open).length,
        cpuShare: (cpu.user + cpu.system) / 1e6 / seconds,
      };
    }
    case "close":
      for (const connection of connections) {
        connection.open = false;
        connection.request.destroy();
      }
      connections.length = 0;
      return { type: "closed" };
    case "stop":
      process.exit(0);
      return null;
    default:
      throw new Error(`unknown message ${message.type}`);
  }
});
process.send?.({ type: "ready" });
