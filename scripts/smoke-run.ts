/**
 * One run through a running stack, as a client sees it: `startRun` (autofix on a file with something to
 * fix), the selection the run waits for, completion, then the run's whole history replayed over SSE.
 * Used by CI against `docker compose up`; works against any server:
 *   BASE_URL=http://localhost:4000 TOKEN=<admin or operator token> npx tsx scripts/smoke-run.ts
 * Exits 1, saying why, if the run does not complete within TIMEOUT_MS (default 120 s).
 */
const baseUrl = process.env.BASE_URL ?? "http://localhost:4000";
const token = process.env.TOKEN ?? process.env.ADMIN_TOKEN;
const deadline = Date.now() + Number(process.env.TIMEOUT_MS ?? 120_000);
if (!token) throw new Error("set TOKEN (or ADMIN_TOKEN) to an API token");
const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };

interface RunJson {
  id: string;
  status: string;
  revision: number;
  steps: { id: string; status: string }[];
}
const RUN = "id status revision steps { id status }";

async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (!response.ok || body.errors)
    throw new Error(`HTTP ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
  return body.data as T;
}

/** The `next` payloads of a subscription, until `enough` says stop (or the server completes it). */
async function subscribe(
  query: string,
  variables: Record<string, unknown>,
  enough: (payloads: unknown[]) => boolean,
): Promise<unknown[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(1, deadline - Date.now()));
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { ...headers, accept: "text/event-stream" },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  if (!response.ok || !response.body) throw new Error(`subscription answered HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const payloads: unknown[] = [];
  let buffer = "";
  try {
    while (!enough(payloads)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const lines = buffer.slice(0, end).split("\n");
        buffer = buffer.slice(end + 2);
        const event = lines
          .find((line) => line.startsWith("event:"))
          ?.slice(6)
          .trim();
        const data = lines.find((line) => line.startsWith("data:"))?.slice(5);
        if (event === "complete") return payloads;
        if (event === "next" && data) payloads.push(JSON.parse(data));
      }
    }
    return payloads;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const started = await gql<{ startRun: RunJson }>(
  `mutation ($input: JSON) { startRun(pipeline: "autofix", input: $input) { ${RUN} } }`,
  { input: { files: [{ path: "smoke.js", content: "var answer = 42;  \n" }] } },
);
let run = started.startRun;
console.log(`started run ${run.id} (${run.status})`);
while (run.status !== "COMPLETED") {
  if (["FAILED", "CANCELLED"].includes(run.status)) throw new Error(`run ${run.id} ended ${run.status}`);
  if (Date.now() > deadline) throw new Error(`run ${run.id} still ${run.status} at the deadline`);
  const waiting = run.steps.find((step) => step.status === "AWAITING_SELECTION");
  if (run.status === "AWAITING_INPUT" && waiting) {
    console.log(`selecting the first alternative of step ${waiting.id}`);
    run = (
      await gql<{ selectAlternative: RunJson }>(
        `mutation ($runId: ID!, $stepId: ID!) { selectAlternative(runId: $runId, stepId: $stepId, index: 0) { ${RUN} } }`,
        { runId: run.id, stepId: waiting.id },
      )
    ).selectAlternative;
    continue;
  }
  await sleep(500);
  const current = await gql<{ run: RunJson | null }>(`query ($id: ID!) { run(id: $id) { ${RUN} } }`, {
    id: run.id,
  });
  if (!current.run) throw new Error(`run ${run.id} disappeared`);
  run = current.run;
}
console.log(`run ${run.id} COMPLETED at revision ${run.revision}`);

// The history over SSE: the run's stream replays every event from the start (then stays open for more).
const last = run.revision;
const events = await subscribe(
  "subscription ($runId: ID!) { runEvents(runId: $runId) { revision type } }",
  { runId: run.id },
  (payloads) => payloads.length > last,
);
const revisions = events.map(
  (payload) => (payload as { data: { runEvents: { revision: number } } }).data.runEvents.revision,
);
const expected = Array.from({ length: run.revision + 1 }, (_, index) => index);
if (JSON.stringify(revisions) !== JSON.stringify(expected)) {
  throw new Error(`SSE replay gave revisions ${JSON.stringify(revisions)}, expected 0..${run.revision}`);
}
console.log(`SSE replay: ${events.length} events, revisions 0..${run.revision}, none missing or repeated`);
