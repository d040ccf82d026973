import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { createSseResultProcessor, serialiseResult } from "../../src/streaming/sse-result-processor.js";

const result = (revision: number) => ({
  data: { runEvents: { revision } },
  extensions: { cursor: String(revision), http: { status: 200 } },
});

/** An iterator whose results the test releases one `gate` at a time (none: all ready at once). */
function iteratorOf(count: number, options: { gates?: Promise<void>[]; failAt?: number } = {}) {
  let returned = false;
  let index = 0;
  const iterator: AsyncIterableIterator<unknown> = {
    async next() {
      await options.gates?.[index];
      if (options.failAt === index) throw new Error("the stream failed");
      if (index >= count) return { done: true, value: undefined };
      return { done: false, value: result(index++) };
    },
    async return() {
      returned = true;
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return { iterator, returned: () => returned };
}

interface Source {
  start(controller: Controller): void;
  pull(controller: Controller): Promise<void>;
  cancel(): Promise<void>;
}

/** What the processor writes to, recording each enqueued chunk (a real stream would merge them). */
class Controller {
  readonly chunks: string[] = [];
  closed = false;
  failure: unknown = null;
  desiredSize: number | null = 1;
  enqueue(bytes: Uint8Array): void {
    this.chunks.push(new TextDecoder().decode(bytes));
  }
  close(): void {
    this.closed = true;
  }
  error(error: unknown): void {
    this.failure = error;
  }
}

/** The fetch API the processor builds its response with, reduced to what it uses. */
const fakeFetchAPI = {
  TextEncoder,
  ReadableStream: class {
    constructor(readonly source: Source) {}
  },
  Response: class {
    readonly headers: Headers;
    constructor(
      readonly body: { source: Source },
      init: { headers: Record<string, string> },
    ) {
      this.headers = new Headers(init.headers);
    }
  },
};

function open(iterator: AsyncIterableIterator<unknown>) {
  const processor = createSseResultProcessor(60_000, 250) as (r: unknown, f: unknown, a: string) => unknown;
  const response = processor(iterator, fakeFetchAPI, "text/event-stream") as InstanceType<
    typeof fakeFetchAPI.Response
  >;
  const { source } = response.body;
  const controller = new Controller();
  source.start(controller);
  return {
    response,
    controller,
    source,
    /** What one pull (the client reading once) writes, as one string per chunk. */
    async pull(): Promise<string[]> {
      const before = controller.chunks.length;
      await source.pull(controller);
      return controller.chunks.slice(before);
    },
    async cancel(): Promise<void> {
      controller.desiredSize = null;
      await source.cancel();
    },
  };
}

const ids = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));

describe("SSE result processor", () => {
  it("writes results that are ready together in one chunk, each with its id line, then completes", async () => {
    const stream = open(iteratorOf(5).iterator);
    assert.equal(stream.response.headers.get("content-type"), "text/event-stream");
    assert.deepEqual(stream.controller.chunks, [":\n\n", "retry: 250\n\n"]);
    const chunks = await stream.pull();
    assert.equal(chunks.length, 1);
    const text = chunks[0] as string;
    assert.deepEqual(ids(text), [0, 1, 2, 3, 4]);
    assert.ok(
      text.startsWith(
        'id: 0\nevent: next\ndata: {"data":{"runEvents":{"revision":0}},"extensions":{"cursor":"0"}}\n\n',
      ),
    );
    assert.ok(text.endsWith("event: complete\ndata:\n\n"));
    assert.equal(stream.controller.closed, true);
  });

  it("sends a ready result at once instead of waiting for the next one", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stream = open(iteratorOf(2, { gates: [Promise.resolve(), gate] }).iterator);
    // Result 1 waits for the gate: result 0 must not wait with it.
    const first = await stream.pull();
    assert.deepEqual(first.map(ids), [[0]]);
    assert.equal(stream.controller.closed, false);
    const second = stream.pull();
    release();
    assert.deepEqual((await second).map(ids), [[1]]);
    assert.deepEqual(await stream.pull(), ["event: complete\ndata:\n\n"]);
    assert.equal(stream.controller.closed, true);
  });

  it("looks for ready results less and less often while none are, and batches again once they are", async () => {
    // next() calls the test answers by hand (live), or at once once `burst` is set (a catch-up).
    const calls: ((value: IteratorResult<unknown>) => void)[] = [];
    let produced = 0;
    let burst = false;
    const iterator: AsyncIterableIterator<unknown> = {
      next: () =>
        burst
          ? Promise.resolve({ done: false, value: result(produced++) })
          : new Promise((resolve) => calls.push(resolve)),
      return: async () => ({ done: true, value: undefined }),
      [Symbol.asyncIterator]: () => iterator,
    };
    const stream = open(iterator);
    const looked: number[] = [];
    for (let pull = 1; pull <= 20; pull++) {
      const pulling = stream.pull();
      // Answers the call this pull waits for (made by this pull, or left by the previous one).
      await new Promise((resolve) => setImmediate(resolve));
      calls.shift()?.({ done: false, value: result(produced++) });
      assert.deepEqual((await pulling).map(ids), [[produced - 1]]);
      // A call left outstanding: this pull looked for a next ready result (and found none).
      if (calls.length > 0) looked.push(pull);
    }
    assert.deepEqual(looked, [1, 3, 6, 11, 20]);
    burst = true;
    calls.shift()?.({ done: false, value: result(produced++) });
    const written: number[] = [];
    for (let pull = 0; pull < 70 && written.length < 30; pull++)
      written.push((await stream.pull()).flatMap(ids).length);
    // Within the skips (at most 64 single writes) it looks again, finds results ready, and batches.
    assert.ok(Math.max(...written) > 1, `writes of ${written.join(", ")} results`);
    await stream.cancel();
  });

  it("bounds a chunk to about 64 KB when very many results are ready", async () => {
    const stream = open(iteratorOf(5_000).iterator);
    const received: number[] = [];
    let pulls = 0;
    while (!stream.controller.closed && pulls < 1_000) {
      pulls++;
      for (const chunk of await stream.pull()) {
        assert.ok(chunk.length < 64 * 1024 + 200, `a chunk of ${chunk.length} characters`);
        received.push(...ids(chunk));
      }
    }
    assert.deepEqual(
      received,
      Array.from({ length: 5_000 }, (_, index) => index),
    );
    assert.ok(pulls > 1 && pulls < 100, `${pulls} pulls`);
  });

  it("fails the stream when the iterator throws, after writing what was ready before", async () => {
    const stream = open(iteratorOf(10, { failAt: 3 }).iterator);
    const chunks = await stream.pull();
    assert.deepEqual(chunks.flatMap(ids), [0, 1, 2]);
    assert.match(String(stream.controller.failure), /the stream failed/);
    assert.equal(stream.controller.closed, false);
  });

  it("returns the iterator when the client goes away while a result is pending", async () => {
    const source = iteratorOf(3, { gates: [Promise.resolve(), new Promise<void>(() => {})] });
    const stream = open(source.iterator);
    assert.deepEqual((await stream.pull()).map(ids), [[0]]);
    await stream.cancel();
    assert.equal(source.returned(), true);
  });
});

describe("serialiseResult", () => {
  it("drops Yoga's internal extensions and keeps the others", () => {
    assert.equal(
      serialiseResult({
        data: { a: 1 },
        extensions: { http: { status: 200 }, unexpected: true, cursor: "7" },
      }),
      '{"data":{"a":1},"extensions":{"cursor":"7"}}',
    );
    assert.equal(
      serialiseResult({ data: { a: 1 }, extensions: { http: { status: 200 } } }),
      '{"data":{"a":1}}',
    );
  });

  it("leaves event data alone, even a key named extensions", () => {
    const data = { runEvents: { data: { extensions: { http: "mine" } } } };
    assert.deepEqual(JSON.parse(serialiseResult({ data })), { data });
  });

  it("drops internal extensions of errors too", () => {
    const text = serialiseResult({
      errors: [{ message: "gone", extensions: { code: "NOT_FOUND", http: { status: 404 } } }],
      extensions: { http: { status: 200 } },
    });
    assert.deepEqual(JSON.parse(text), { errors: [{ message: "gone", extensions: { code: "NOT_FOUND" } }] });
  });
});
