import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchDatabase } from "../harness.js";
import { BenchChild, type ChildMessage } from "./child.js";

const DIR = path.dirname(fileURLToPath(import.meta.url));

export interface ServerMemory extends ChildMessage {
  rss: number;
  heapUsed: number;
  gc: boolean;
  subscriptions: number;
  cpu: { user: number; system: number };
}

/** The streaming benches' API server (bench/fanout/sse-server.ts), as seen from the bench. */
export class BenchServer {
  private constructor(
    readonly child: BenchChild,
    readonly url: string,
    readonly token: string,
  ) {}

  /** `script`: the API server (default) or `bare-server.ts`, the baseline that writes one frame to all. */
  static async start(
    db: BenchDatabase | null,
    env: Record<string, string> = {},
    script = "sse-server.ts",
  ): Promise<BenchServer> {
    const child = new BenchChild(path.join(DIR, script), {
      // BENCH_SERVER_CPU_PROF=<dir>: a V8 CPU profile of each server, written when it stops.
      nodeFlags: [
        "--expose-gc",
        // BENCH_SERVER_NODE_FLAGS: Node flags for the API server only (tuning experiments, e.g.
        // `--max-semi-space-size=64`); the bare server keeps Node's defaults.
        ...(script === "sse-server.ts"
          ? (process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean)
          : []),
        ...(process.env.BENCH_SERVER_CPU_PROF
          ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_SERVER_CPU_PROF}`]
          : []),
      ],
      env: { DATABASE_URL: db?.url ?? "", BENCH_SERVER_ENV: JSON.stringify(env) },
    });
    try {
      const ready = await child.request<ChildMessage & { port: number; token: string }>(
        "ready",
        null,
        60_000,
      );
      return new BenchServer(child, `http://127.0.0.1:${ready.port}/graphql`, ready.token);
    } catch (error) {
      await child.stop(1_000);
      throw error;
    }
  }

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  /** The bare server only: one frame stamped `t`/`k` written to every stream. */
  async broadcast(k: number): Promise<void> {
    await this.child.request("broadcasted", { type: "broadcast", k });
  }

  /** The bare server only: `rounds` events per run, `rate` events/s in all, driven by the server. */
  async runLoad(runIds: string[], first: number, rounds: number, rate: number): Promise<void> {
    const seconds = (runIds.length * rounds) / rate;
    await this.child.request(
      "run-loaded",
      { type: "run-load", runIds, first, rounds, rate },
      seconds * 1_000 + 60_000,
    );
  }

  memory(): Promise<ServerMemory> {
    return this.child.request<ServerMemory>("memory", { type: "memory" });
  }

  async profileStart(): Promise<void> {
    await this.child.request("profile-started", { type: "profile-start" });
  }

  async profileStop(file: string): Promise<void> {
    await this.child.request("profile-stopped", { type: "profile-stop", file });
  }

  async heapStart(): Promise<void> {
    await this.child.request("heap-started", { type: "heap-start" });
  }

  async heapStop(file: string): Promise<void> {
    await this.child.request("heap-stopped", { type: "heap-stop", file });
  }

  /** A GraphQL query over plain HTTP (the bench's own checks, not measured). */
  async query<Data>(query: string, variables: Record<string, unknown> = {}): Promise<Data> {
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...this.headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: Data; errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(body.errors.map((error) => error.message).join("; "));
    return body.data as Data;
  }

  /** Waits until the read model (what subscriptions check visibility against) has the run. */
  async waitForRun(runId: string, timeoutMs = 30_000): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (performance.now() < until) {
      const data = await this.query<{ run: { id: string } | null }>(
        "query($id: ID!) { run(id: $id) { id } }",
        {
          id: runId,
        },
      );
      if (data.run) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`run ${runId} not in the read model after ${timeoutMs} ms`);
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

export interface LatencyFigures {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface Finished extends ChildMessage {
  latency: LatencyFigures;
  received: number;
  irregular: number;
  dropped: number;
  closedSample: string | null;
  open: number;
  cpuShare: number;
}

/** The subscribers' process (bench/fanout/sse-clients.ts). */
export class BenchClients {
  private constructor(readonly child: BenchChild) {}

  static async start(): Promise<BenchClients> {
    const child = new BenchChild(path.join(DIR, "sse-clients.ts"));
    await child.request("ready", null, 60_000);
    return new BenchClients(child);
  }

  /**
   * `count` subscriptions to the run's events after `after` (to several runs, round robin, when
   * `runId` is a list); resolves once each got its 200.
   */
  open(
    server: BenchServer,
    runId: string | string[],
    after: number,
    count: number,
    method: "GET" | "POST" = "POST",
  ) {
    const bodyOf = (id: string) =>
      JSON.stringify({
        query:
          "subscription($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision data } }",
        variables: { runId: id, after },
      });
    const body = bodyOf(Array.isArray(runId) ? (runId[0] ?? "") : runId);
    const bodies = Array.isArray(runId) ? runId.map(bodyOf) : undefined;
    return this.child.request<
      ChildMessage & { ok: number; failed: number; errorSamples: string[]; ms: number }
    >(
      "opened",
      {
        type: "open",
        method,
        url: server.url,
        headers: server.headers,
        body,
        bodies,
        count,
        concurrency: 64,
        timeoutMs: 30_000,
      },
      // Subscribing costs a few queries each: on a loaded machine 5,000 took about a minute.
      Math.max(300_000, count * 60),
    );
  }

  /** Resolves when every open subscriber has received the event of sequence `k`. */
  seen(k: number, timeoutMs = 60_000) {
    return this.child.request<
      ChildMessage & { open: number; behind: number; closedSample: string | null; ms: number }
    >("seen", { type: "await", k, timeoutMs }, timeoutMs + 10_000);
  }

  async start(): Promise<void> {
    await this.child.request("started", { type: "start" });
  }

  finish(): Promise<Finished> {
    return this.child.request<Finished>("finished", { type: "finish" });
  }

  async close(): Promise<void> {
    await this.child.request("closed", { type: "close" });
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

/** The message a measured event carries: when it was appended, and its sequence number. */
export const stamp = (k: number): string => `t=${Date.now()} k=${k}`;
