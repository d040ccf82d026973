/**
 * Load generator run as a child process (so that its own CPU time is not charged to the server's
 * event loop): reads a LoadSpec as JSON on stdin, sends one GraphQL POST per request at a steady
 * rate, and writes a LoadResult as JSON on stdout.
 *
 * Open loop: request i is due at start + i / rate whether or not earlier ones have answered, and its
 * latency is measured from when it was due, not from when it went out. A server that falls behind
 * therefore shows its queueing in the figures instead of slowing the load down (no coordinated
 * omission).
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface LoadRequest {
  query: string;
  variables?: Record<string, unknown>;
}

export interface LoadSpec {
  url: string;
  /** Sent with every request, e.g. the Authorization header. */
  headers: Record<string, string>;
  /** Requests per second. */
  rate: number;
  /** Sent in this order; the run lasts requests.length / rate seconds. */
  requests: LoadRequest[];
  /** Requests still in flight this long after the last one was due are counted as timed out. */
  timeoutMs: number;
}

export interface LoadResult {
  /** Latency of each successful request in ms, from when it was due to its complete answer. */
  latenciesMs: number[];
  errors: number;
  /** A few error messages, for the bench log. */
  errorSamples: string[];
  /** How late requests went out on average (ms): the generator's own lag, should stay near 0. */
  meanSendLagMs: number;
  seconds: number;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function send(spec: LoadSpec, request: LoadRequest, signal: AbortSignal): Promise<string | null> {
  const response = await fetch(spec.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      ...spec.headers,
    },
    body: JSON.stringify(request),
    signal,
  });
  const body = (await response.json()) as { errors?: { message: string }[] };
  if (!response.ok || body.errors?.length) {
    return `${response.status}: ${body.errors?.map((error) => error.message).join("; ") ?? "no body"}`;
  }
  return null;
}

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let sendLag = 0;
  const timeout = new AbortController();
  const intervalMs = 1_000 / spec.rate;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (const [index, request] of spec.requests.entries()) {
    const due = started + index * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sendLag += Math.max(0, performance.now() - due);
    inFlight.push(
      send(spec, request, timeout.signal)
        .then((problem) => {
          if (problem === null) latenciesMs.push(performance.now() - due);
          else throw new Error(problem);
        })
        .catch((error: unknown) => {
          errors++;
          if (errorSamples.length < 5) errorSamples.push((error as Error).message);
        }),
    );
  }
  const timer = setTimeout(() => timeout.abort(), spec.timeoutMs);
  await Promise.all(inFlight);
  clearTimeout(timer);
  return {
    latenciesMs,
    errors,
    errorSamples,
    meanSendLagMs: spec.requests.length > 0 ? sendLag / spec.requests.length : 0,
    seconds: (performance.now() - started) / 1_000,
  };
}

// A script, not a library: the bench imports only its types (`import type`, erased at run time).
const spec = JSON.parse(await readStdin()) as LoadSpec;
process.stdout.write(JSON.stringify(await runLoad(spec)));
