import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamingFor } from "../../src/streaming/streaming-service.js";
import { appendProgress, startRunningRun } from "./support/running-run.js";
import { subscribePaused } from "./support/sse.js";
import { chattyPipeline, type StreamingApp, startStreamingApp } from "./support/streaming-app.js";

const RUN_EVENTS_WITH_DATA = `subscription ($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision type data } }`;
const ALL_EVENTS = `subscription ($after: String) { events(after: $after) { runId revision type data } }`;

let app: StreamingApp;

beforeAll(async () => {
  app = await startStreamingApp({
    pipelines: [chattyPipeline("steps", 1, 0)],
    env: { STREAM_KEEPALIVE_MS: "5000" },
  });
});

afterAll(async () => {
  await app?.close();
});

describe("SSE subscribers bounded in bytes", () => {
  it("40 slow readers that never read stay under 500 MB of RSS", async () => {
    const runId = await startRunningRun(app);
    // 60 events of 1 MB each: a reader that takes nothing would once pin hundreds of MB.
    // One event per append: the test process itself holds as little of them as it can.
    for (let event = 0; event < 60; event++) await appendProgress(app.ctx.store, runId, 1, 1_000_000);
    const readers = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        index % 2 === 0
          ? subscribePaused(app, ALL_EVENTS, { after: null })
          : subscribePaused(app, RUN_EVENTS_WITH_DATA, { runId, after: null }),
      ),
    );
    // The whole test process (server, appender and test runner): 350 MB or so before the readers.
    const before = process.memoryUsage().rss;
    let peak = 0;
    for (let sample = 0; sample < 40; sample++) {
      peak = Math.max(peak, process.memoryUsage().rss);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
    expect(mb(peak), `RSS ${mb(before)} MB before the readers, ${mb(peak)} MB at most`).toBeLessThan(500);
    expect((peak - before) / 2 ** 20).toBeLessThan(200);
    expect(streamingFor(app.ctx).fanout.bufferedBytes).toBeLessThanOrEqual(
      40 * (app.ctx.config.STREAM_MAX_BUFFERED_BYTES + 1_100_000),
    );
    for (const reader of readers) reader.resume().close();
  });
});
