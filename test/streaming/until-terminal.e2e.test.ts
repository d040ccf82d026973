import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { gqlOk } from "../support/graphql-client.js";

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

/** Reads an SSE response until it ends or `ms` pass; returns what came and whether it ended. */
async function readFor(response: Response, ms: number): Promise<{ text: string; ended: boolean }> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const chunk = await Promise.race([
      reader.read(),
      new Promise<null>((resolve) => setTimeout(resolve, left, null)),
    ]);
    if (chunk === null) break;
    if (chunk.done) return { text, ended: true };
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel();
  return { text, ended: false };
}

const subscribe = (runId: string, untilTerminal?: boolean) =>
  fetch(`${app.baseUrl}/graphql`, {
    method: "POST",
    headers: { ...app.authHeaders, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({
      query: `subscription ($runId: ID!, $until: Boolean) { runEvents(runId: $runId, untilTerminal: $until) { revision type } }`,
      variables: { runId, until: untilTerminal ?? null },
    }),
  });

const types = (text: string) => [...text.matchAll(/"type":"(\w+)"/g)].map((match) => match[1]);

describe("runEvents after a terminal event", () => {
  it("with untilTerminal: true, completes right after the run's next terminal event", async () => {
    const { startRun } = await gqlOk<{ startRun: { id: string } }>(
      app.baseUrl,
      `mutation { startRun(pipeline: "test", input: { repo: "r" }) { id } }`,
    );
    const stream = await subscribe(startRun.id, true);
    await gqlOk(app.baseUrl, `mutation { cancelRun(runId: "${startRun.id}") { status } }`);
    const { text, ended } = await readFor(stream, 15_000);
    expect(ended).toBe(true);
    expect(types(text)).toEqual(["RunStarted", "RunCancelled"]);
    expect(text).toMatch(/event: complete/);
  });

  it("by default, stays open after it (a rerun continues the same stream)", async () => {
    const { startRun } = await gqlOk<{ startRun: { id: string } }>(
      app.baseUrl,
      `mutation { startRun(pipeline: "test", input: { repo: "r" }) { id } }`,
    );
    await gqlOk(app.baseUrl, `mutation { cancelRun(runId: "${startRun.id}") { status } }`);
    const stream = await subscribe(startRun.id);
    const { text, ended } = await readFor(stream, 2_000);
    expect(types(text)).toEqual(["RunStarted", "RunCancelled"]);
    expect(ended).toBe(false);
  });
});
