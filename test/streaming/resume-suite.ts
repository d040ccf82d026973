import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "vitest";
import { runStreamName } from "../../src/runs/events.js";
import { payloadOf, type SseFrame, subscribeSse } from "./support/sse.js";
import { chattyPipeline, gqlAs, type StreamingApp, startStreamingApp } from "./support/streaming-app.js";

interface EventJson {
  runId: string;
  revision: number;
  position: string;
  type: string;
}

const RUN_EVENTS = `subscription ($runId: ID!, $after: Int) {
  runEvents(runId: $runId, after: $after) { runId revision position type }
}`;
const RUN_UPDATED = "subscription ($runId: ID!) { runUpdated(runId: $runId) { status revision } }";
const ALL_EVENTS = `subscription ($after: String) { events(after: $after) { runId revision position type } }`;

let app: StreamingApp;

async function startRun(pipeline: string): Promise<string> {
  const data = await gqlAs<{ startRun: { id: string } }>(
    app,
    "mutation ($pipeline: String!) { startRun(pipeline: $pipeline, input: {}) { id } }",
    { pipeline },
  );
  return data.startRun.id;
}

/** Reads `next` payloads until `take` of them arrived, the stream ended, or `stopAt` matched. */
async function readEvents(
  frames: AsyncGenerator<SseFrame>,
  take: number,
  field: string,
  stopAt: (event: EventJson) => boolean = () => false,
): Promise<{ events: EventJson[]; ids: (string | null)[]; completed: boolean }> {
  const events: EventJson[] = [];
  const ids: (string | null)[] = [];
  for await (const frame of frames) {
    if (frame.kind === "message" && frame.event === "complete") return { events, ids, completed: true };
    const payload = payloadOf<Record<string, EventJson>>(frame);
    if (!payload) continue;
    assert.equal(payload.errors, undefined, JSON.stringify(payload.errors));
    const event = payload.data?.[field] as EventJson;
    events.push(event);
    ids.push(frame.kind === "message" ? frame.id : null);
    if (events.length >= take || stopAt(event)) break;
  }
  return { events, ids, completed: false };
}

/**
 * Resumable subscriptions over SSE, on the event store `eventStoreEnv` configures (none: the
 * PostgreSQL store; `EVENTSTORE_URL`: KurrentDB). Called by resume.e2e.test.ts and
 * resume-kurrentdb.e2e.test.ts, once per file.
 */
export function describeResumeSuite(
  backend: string,
  eventStoreEnv: () => Record<string, string> = () => ({}),
) {
  beforeAll(async () => {
    app = await startStreamingApp({
      pipelines: [chattyPipeline("chatty", 150, 4), chattyPipeline("short", 2, 0)],
      env: { STREAM_KEEPALIVE_MS: "150", ...eventStoreEnv() },
    });
    await app.startWorker();
  });

  afterAll(async () => {
    await app?.close();
  });

  describe(`resumable subscriptions over SSE (${backend})`, resumeTests);
}

function resumeTests(): void {
  it("runEvents: cut at random points 50+ times and resumed, the events concatenate to exactly the stream", async () => {
    const runId = await startRun("chatty");
    const seen: EventJson[] = [];
    let connections = 0;
    let finished = false;
    while (!finished) {
      const last = seen.at(-1)?.revision ?? null;
      // Resume three ways: `after`, `Last-Event-ID` (what EventSource sends), or both.
      const how = connections % 3;
      const stream = await subscribeSse(
        app,
        RUN_EVENTS,
        { runId, after: how === 1 ? null : last },
        {
          method: connections % 2 === 0 ? "GET" : "POST",
          headers: how !== 0 && last !== null ? { "last-event-id": String(last) } : {},
        },
      );
      assert.equal(stream.status, 200);
      connections++;
      const { events, ids } = await readEvents(
        stream.frames,
        1 + Math.floor(Math.random() * 4),
        "runEvents",
        (event) => event.type === "RunCompleted",
      );
      stream.close();
      assert.deepEqual(
        ids,
        events.map((event) => String(event.revision)),
      );
      seen.push(...events);
      if (seen.at(-1)?.type === "RunCompleted") finished = true;
    }
    const stored = await app.ctx.store.readStream(runStreamName(runId));
    assert.deepEqual(
      seen.map((event) => [event.revision, event.position, event.type]),
      stored.map((event) => [event.revision, event.position, event.type]),
    );
    assert.ok(stored.length > 150);
    assert.ok(connections >= 50, `${connections} connections`);
  });

  it("events: resumed by position across cuts, in the global order, without gap or repeat", async () => {
    const runId = await startRun("chatty");
    const seen: EventJson[] = [];
    let done = false;
    for (let connection = 0; !done; connection++) {
      const last = seen.at(-1)?.position ?? null;
      const stream = await subscribeSse(
        app,
        ALL_EVENTS,
        { after: last },
        {
          method: connection % 2 === 0 ? "POST" : "GET",
        },
      );
      const { events, ids } = await readEvents(
        stream.frames,
        20 + Math.floor(Math.random() * 60),
        "events",
        (event) => event.type === "RunCompleted" && event.runId === runId,
      );
      stream.close();
      assert.deepEqual(
        ids,
        events.map((event) => event.position),
      );
      seen.push(...events);
      done = events.some((event) => event.type === "RunCompleted" && event.runId === runId);
    }
    const positions = seen.map((event) => event.position);
    assert.deepEqual(positions, [...positions].sort());
    assert.equal(new Set(positions).size, positions.length);
    const ofRun = seen.filter((event) => event.runId === runId).map((event) => event.revision);
    const stored = await app.ctx.store.readStream(runStreamName(runId));
    assert.deepEqual(
      ofRun,
      stored.map((event) => event.revision),
    );
  });

  it("200 reconnects to a running run start nothing: one RunStarted, one StepStarted per step attempt", async () => {
    const runId = await startRun("chatty");
    let reconnects = 0;
    for (let wave = 0; wave < 10; wave++) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, index) => {
          const stream = await subscribeSse(
            app,
            RUN_EVENTS,
            { runId, after: wave * 3 + index },
            { method: index % 2 === 0 ? "GET" : "POST" },
          );
          await readEvents(stream.frames, 1, "runEvents");
          stream.close();
          reconnects++;
        }),
      );
    }
    await waitForStatus(runId, "COMPLETED");
    const stored = await app.ctx.store.readStream(runStreamName(runId));
    const count = (type: string) => stored.filter((event) => event.type === type).length;
    assert.equal(reconnects, 200);
    assert.equal(count("RunStarted"), 1);
    assert.equal(count("RunClaimed"), 1);
    assert.equal(count("RunCompleted"), 1);
    const starts = stored
      .filter((event) => event.type === "StepStarted")
      .map((event) => `${event.data.stepId}#${event.data.attempt}`);
    assert.deepEqual(starts, ["work#1", "finish#1"]);
  });

  it("runUpdated: the current state first, then each change as the projection applies it", async () => {
    const runId = await startRun("short");
    const stream = await subscribeSse(app, RUN_UPDATED, { runId });
    const states: { status: string; revision: number }[] = [];
    for await (const frame of stream.frames) {
      const payload = payloadOf<{ runUpdated: { status: string; revision: number } }>(frame);
      if (!payload) continue;
      assert.equal(payload.errors, undefined);
      if (payload.data) states.push(payload.data.runUpdated);
      if (payload.data?.runUpdated.status === "COMPLETED") break;
    }
    stream.close();
    const revisions = states.map((state) => state.revision);
    assert.deepEqual(
      revisions,
      [...new Set(revisions)].sort((a, b) => a - b),
    );
    assert.equal(states.at(-1)?.revision, (await app.ctx.store.streamRevision(runStreamName(runId))) ?? -1);
    assert.ok(states.length >= 2, `${states.length} states`);
  });

  it("an unknown run: one error event with NOT_FOUND, then the stream closes", async () => {
    const stream = await subscribeSse(app, RUN_EVENTS, { runId: "no-such-run", after: null });
    const frames: SseFrame[] = [];
    for await (const frame of stream.frames) if (frame.kind === "message") frames.push(frame);
    const payload = payloadOf(frames[0] as SseFrame);
    assert.equal(payload?.errors?.[0]?.extensions?.code, "NOT_FOUND");
    const last = frames.at(-1);
    assert.equal(last?.kind === "message" ? last.event : null, "complete");
    assert.equal(frames.length, 2);
  });

  it("writes keep-alive comments at the configured interval on an idle stream", async () => {
    const runId = await startRun("short");
    // Caught up to the end of a finished run: the stream is idle from then on.
    await waitForStatus(runId, "COMPLETED");
    const stream = await subscribeSse(app, RUN_EVENTS, { runId, after: 100_000 });
    let comments = 0;
    const started = Date.now();
    for await (const frame of stream.frames) {
      if (frame.kind === "comment") comments++;
      if (Date.now() - started > 800) break;
    }
    stream.close();
    // 150 ms apart: about 5 in 800 ms, plus the opening one.
    assert.ok(comments >= 4 && comments <= 8, `${comments} keep-alive comments`);
  });
}

async function waitForStatus(runId: string, status: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const data = await gqlAs<{ run: { status: string } | null }>(
      app,
      "query ($id: ID!) { run(id: $id) { status } }",
      { id: runId },
    );
    if (data.run?.status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`run ${runId} never reached ${status}`);
}
