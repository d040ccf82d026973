/**
 * Soak: a mixed load for 10 minutes (`--param soak.seconds=60` or SOAK_SECONDS=60 for less; `--scale`
 * multiplies it) on one process running API and worker (bench/soak/server.ts): runs started at a
 * steady rate, the commands clients send (selections, cancels, reruns), and 500 SSE subscribers with
 * random cuts and slow readers (bench/soak/subscribers.ts). Reports RSS and event-loop delay over time
 * as charts (bench/soak-memory.svg, bench/soak-event-loop.svg), against the same server idle before
 * the load, and that nothing was lost: every subscriber's stream of every run it followed is exactly
 * revisions 0..n ending with the run's terminal event, and every run started reached a final state.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BenchChild, type ChildMessage } from "./fanout/child.js";
import { type Bench, type BenchEnv, type BenchFigure, figure, numberParam, percentile } from "./harness.js";
import { lineChartSvg } from "./report-chart.js";
import type { SoakSample } from "./soak/server.js";

const DIR = path.dirname(fileURLToPath(import.meta.url));
const IDLE_SECONDS = 10;

interface Client {
  url: string;
  token: string;
}

async function post(client: Client, body: string, attempt = 0): Promise<Response> {
  try {
    return await fetch(client.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${client.token}` },
      body,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    // A kept-alive connection the server closed just as it was reused: a fresh one is fine.
    if (attempt < 2) return post(client, body, attempt + 1);
    throw error;
  }
}

async function gql<T>(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await post(client, JSON.stringify({ query, variables }));
  const body = (await response.json()) as {
    data?: T;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  if (body.errors?.length) {
    const error = new Error(body.errors[0]?.message) as Error & { code?: string };
    error.code = body.errors[0]?.extensions?.code;
    throw error;
  }
  return body.data as T;
}

/** A file with something to fix (the run waits for a selection) or nothing (it completes alone). */
const inputFor = (index: number) => ({
  files: [
    {
      path: `f${index}.js`,
      content: index % 2 === 0 ? `var n${index} = ${index};  \n` : "export const a = 1;\n",
    },
  ],
  delayMs: 200 + (index % 7) * 300,
});

const TERMINAL = ["COMPLETED", "FAILED", "CANCELLED"];

const select = (client: Client, runId: string, stepId: string) =>
  gql(
    client,
    "mutation ($runId: ID!, $stepId: ID!) { selectAlternative(runId: $runId, stepId: $stepId, index: 0) { id } }",
    {
      runId,
      stepId,
    },
  );
const RUN = "id status steps { id status }";
interface RunJson {
  id: string;
  status: string;
  steps: { id: string; status: string }[];
}

/** The clients' side of the load: starts at a steady rate, and the commands runs ask for. */
function startLoad(client: Client, startsPerSecond: number, onStarted: (runId: string) => void) {
  const started: string[] = [];
  const errors: Record<string, number> = {};
  const count = (error: unknown) => {
    const code = (error as { code?: string }).code ?? "NETWORK";
    errors[code] = (errors[code] ?? 0) + 1;
  };
  let index = 0;
  const starter = setInterval(() => {
    const current = index++;
    gql<{ startRun: RunJson }>(
      client,
      `mutation ($input: JSON) { startRun(pipeline: "autofix", input: $input) { ${RUN} } }`,
      {
        input: inputFor(current),
      },
    ).then((data) => {
      started.push(data.startRun.id);
      onStarted(data.startRun.id);
      // One run in twenty is cancelled mid-way, as a user would.
      if (current % 20 === 7) {
        setTimeout(() => {
          gql(client, `mutation ($runId: ID!) { cancelRun(runId: $runId, reason: "soak") { id } }`, {
            runId: data.startRun.id,
          }).catch(count);
        }, 300);
      }
    }, count);
  }, 1_000 / startsPerSecond);
  let reruns = 0;
  let stopped = false;
  // One pass at a time (a pass can outlast the interval under load; two would race on the same runs).
  const commander = async () => {
    while (!stopped) {
      await commandPass();
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };
  const commandPass = async () => {
    try {
      const waiting = await gql<{ runs: { edges: { node: RunJson }[] } }>(
        client,
        `{ runs(status: AWAITING_INPUT, first: 100) { edges { node { ${RUN} } } } }`,
      );
      // Concurrently: each mutation waits for the read model to show its effect (read-your-writes).
      await Promise.all(
        waiting.runs.edges.map(({ node }) => {
          const step = node.steps.find((candidate) => candidate.status === "AWAITING_SELECTION");
          return step ? select(client, node.id, step.id).catch(count) : null;
        }),
      );
      // Now and then a finished run is run again (it gets new events on the same stream).
      if (reruns++ % 4 === 0) {
        const done = await gql<{ runs: { edges: { node: RunJson }[] } }>(
          client,
          `{ runs(status: COMPLETED, first: 20) { edges { node { ${RUN} } } } }`,
        );
        const finished = done.runs.edges[Math.floor(Math.random() * done.runs.edges.length)]?.node;
        if (finished) {
          await gql(client, "mutation ($runId: ID!) { rerunRun(runId: $runId) { id } }", {
            runId: finished.id,
          }).catch(count);
        }
      }
    } catch (error) {
      count(error);
    }
  };
  const commanding = commander();
  return {
    started,
    errors,
    async stop() {
      clearInterval(starter);
      stopped = true;
      await commanding;
    },
  };
}

async function waitUntilAllFinal(client: Client, runIds: string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let open = runIds;
  while (open.length > 0 && Date.now() < deadline) {
    const still: string[] = [];
    await Promise.all(
      open.map(async (id) => {
        const { run } = await gql<{ run: RunJson | null }>(
          client,
          `query ($id: ID!) { run(id: $id) { ${RUN} } }`,
          {
            id,
          },
        ).catch(() => ({ run: { id, status: "UNKNOWN", steps: [] } as RunJson }));
        if (!run || TERMINAL.includes(run.status)) return;
        still.push(id);
        const step = run.steps.find((candidate) => candidate.status === "AWAITING_SELECTION");
        if (run.status === "AWAITING_INPUT" && step) await select(client, id, step.id).catch(() => undefined);
      }),
    );
    open = still;
    if (open.length > 0) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return open;
}

async function writeCharts(samples: SoakSample[], idle: SoakSample[], loadFrom: number): Promise<void> {
  const at = (s: SoakSample) => Math.round(s.t - loadFrom);
  const idleRss = Math.max(...idle.map((s) => s.rssMb));
  await writeFile(
    path.join(DIR, "soak-memory.svg"),
    lineChartSvg(
      [
        { label: "RSS", color: "#1f77b4", points: samples.map((s) => ({ x: at(s), y: s.rssMb })) },
        { label: "heap used", color: "#2ca02c", points: samples.map((s) => ({ x: at(s), y: s.heapMb })) },
      ],
      {
        title: "Soak: memory of the API + worker process",
        xLabel: "seconds of load",
        yLabel: "MB",
        threshold: { y: idleRss, label: `idle RSS ${idleRss} MB` },
      },
    ),
  );
  const idleP99 = percentile(
    idle.map((s) => s.delayP99).sort((a, b) => a - b),
    50,
  );
  await writeFile(
    path.join(DIR, "soak-event-loop.svg"),
    lineChartSvg(
      [
        {
          label: "p99 per second",
          color: "#d62728",
          points: samples.map((s) => ({ x: at(s), y: s.delayP99 })),
        },
        {
          label: "p50 per second",
          color: "#ff7f0e",
          points: samples.map((s) => ({ x: at(s), y: s.delayP50 })),
        },
      ],
      {
        title: "Soak: event-loop delay of the API + worker process",
        xLabel: "seconds of load",
        yLabel: "ms",
        threshold: { y: idleP99, label: `idle p99 ${idleP99} ms` },
      },
    ),
  );
}

async function run(env: BenchEnv): Promise<BenchFigure[]> {
  const seconds = Math.round(
    Number(process.env.SOAK_SECONDS ?? 0) || numberParam(env, "soak", "seconds", 600) * env.flags.scale,
  );
  const subscriberCount = numberParam(env, "soak", "subscribers", 500);
  const startsPerSecond = numberParam(env, "soak", "startsPerSecond", 2);
  const db = await env.createDatabase({ poolSize: 2 });
  const server = new BenchChild(path.join(DIR, "soak", "server.ts"), {
    env: {
      DATABASE_URL: db.url,
      BENCH_SERVER_ENV: JSON.stringify({
        // One token for every subscriber: the per-token cap is not what this measures.
        MAX_SUBSCRIPTIONS_PER_TOKEN: "100000",
        COMMAND_RATE_PER_SECOND: "1000",
        COMMAND_BURST: "2000",
        // Enough worker for the load: a run's steps mostly wait (their `delayMs`, 4.4 s a run on
        // average) and a step holds its thread while it waits, so 2 runs/s need about 9 at once.
        // With the defaults (4 runs, one thread per core: 2 here) the worker finished about 0.45
        // runs/s, and with 8 and 8 about 1.8: the runs still open at the end counted as lost.
        WORKER_CONCURRENCY: "16",
        STEP_THREADS: "16",
      }),
    },
  });
  const subscribers = new BenchChild(path.join(DIR, "soak", "subscribers.ts"));
  const samples: SoakSample[] = [];
  const collect = async () => {
    samples.push(
      ...(await server.request<ChildMessage & { samples: SoakSample[] }>("samples", { type: "samples" }))
        .samples,
    );
  };
  try {
    const ready = await server.request<ChildMessage & { port: number; token: string }>("ready", null, 60_000);
    const client: Client = { url: `http://127.0.0.1:${ready.port}/graphql`, token: ready.token };
    env.log(
      `soak: ${seconds} s, ${subscriberCount} subscribers, ${startsPerSecond} starts/s; idle for ${IDLE_SECONDS} s first`,
    );
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1_000));
    await collect();
    const idle = samples.slice(2);
    const loadFrom = samples.at(-1)?.t ?? 0;

    await subscribers.request("started", {
      type: "start",
      url: client.url,
      token: client.token,
      count: subscriberCount,
      slowShare: 0.1,
      cutEverySeconds: 8,
    });
    const pending: string[] = [];
    const load = startLoad(client, startsPerSecond, (runId) => pending.push(runId));
    const feeder = setInterval(() => {
      if (pending.length > 0)
        subscribers.request("runs-added", { type: "runs", runIds: pending.splice(0) }).catch(() => undefined);
    }, 1_000);
    const progress = env.progress("soak (seconds)", seconds);
    const loadStarted = performance.now();
    while (performance.now() - loadStarted < seconds * 1_000) {
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      await collect();
      progress.update(Math.min(seconds, (performance.now() - loadStarted) / 1_000));
      const last = samples.at(-1);
      if (last && Math.round((performance.now() - loadStarted) / 1_000) % 60 < 5) {
        env.log(
          `soak ${Math.round((performance.now() - loadStarted) / 1_000)} s: RSS ${last.rssMb} MB, loop delay p99 ${last.delayP99} ms, ${load.started.length} runs`,
        );
      }
    }
    progress.stop();
    await load.stop();
    clearInterval(feeder);
    // Nothing lost: every run started reaches a final state, and every subscriber sees its run's end.
    env.log(`soak: load stopped; waiting for ${load.started.length} runs to finish`);
    const unfinishedRuns = await waitUntilAllFinal(client, load.started, 120_000);
    const drained = await subscribers.request<
      ChildMessage & {
        received: number;
        gaps: number;
        repeats: number;
        streamsVerified: number;
        cuts: number;
        resumes: number;
        pauses: number;
        unfinished: number;
        errorCodes: Record<string, number>;
      }
    >("drained", { type: "drain", timeoutMs: 60_000 }, 90_000);
    env.log("soak: subscribers drained");
    await collect();
    const loaded = samples.filter((s) => s.t > loadFrom);
    await writeCharts(loaded, idle, loadFrom);
    env.log(
      `soak: ${load.started.length} runs (${unfinishedRuns.length} not final), ${drained.received} events to subscribers, ` +
        `${drained.streamsVerified} streams verified, ${drained.cuts} cuts, ${drained.resumes} server-side ends resumed, ` +
        `${drained.pauses} slow-reader pauses; gaps ${drained.gaps}, repeats ${drained.repeats}, unfinished ${drained.unfinished}; ` +
        `stream errors ${JSON.stringify(drained.errorCodes)}, client errors ${JSON.stringify(load.errors)}`,
    );

    const idleRss = Math.max(...idle.map((s) => s.rssMb));
    const idleP99 = percentile(
      idle.map((s) => s.delayP99).sort((a, b) => a - b),
      50,
    );
    const quarter = loaded.slice(0, Math.max(1, Math.floor(loaded.length / 4)));
    const lastQuarter = loaded.slice(-Math.max(1, Math.floor(loaded.length / 4)));
    const p99s = loaded.map((s) => s.delayP99).sort((a, b) => a - b);
    const lost = drained.gaps + drained.repeats + drained.unfinished + unfinishedRuns.length;
    const detail = {
      seconds,
      subscribers: subscriberCount,
      runs: load.started.length,
      streamsVerified: drained.streamsVerified,
      cuts: drained.cuts,
      chart: "soak-memory.svg",
    };
    return [
      figure({
        bench: "soak",
        name: "RSS, peak under load",
        value: Math.max(...loaded.map((s) => s.rssMb)),
        unit: "MB",
        baseline: { name: "RSS idle", value: idleRss },
        detail,
      }),
      figure({
        bench: "soak",
        name: "RSS, mean of the last quarter",
        value: Math.round(lastQuarter.reduce((sum, s) => sum + s.rssMb, 0) / lastQuarter.length),
        unit: "MB",
        baseline: {
          name: "RSS, mean of the first quarter",
          value: Math.round(quarter.reduce((sum, s) => sum + s.rssMb, 0) / quarter.length),
        },
        detail,
      }),
      figure({
        bench: "soak",
        name: "event-loop delay p99, median second under load",
        value: percentile(p99s, 50),
        unit: "ms",
        baseline: { name: "idle p99", value: idleP99 },
        detail: { ...detail, chart: "soak-event-loop.svg" },
      }),
      figure({
        bench: "soak",
        name: "event-loop delay p99, worst second under load",
        value: p99s.at(-1) ?? Number.NaN,
        unit: "ms",
        baseline: { name: "idle p99", value: idleP99 },
        detail: { ...detail, chart: "soak-event-loop.svg" },
      }),
      figure({
        bench: "soak",
        name: "events lost, repeated or never delivered",
        value: lost,
        unit: "events",
        baseline: { name: "events delivered to subscribers", value: drained.received },
        target: { op: "<=", value: 0 },
        detail,
      }),
    ];
  } finally {
    await subscribers.stop(2_000).catch(() => undefined);
    await server.stop().catch(() => undefined);
    await db.drop();
  }
}

const soak: Bench = { name: "soak", run };
export default soak;
