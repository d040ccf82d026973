import { isAsyncIterable, type Plugin } from "graphql-yoga";
import { cursorOfResult } from "./stream-cursors.js";

type ResultProcessPayload = Parameters<NonNullable<Plugin["onResultProcess"]>>[0];
type ResultProcessor = Parameters<ResultProcessPayload["setResultProcessor"]>[0];

const SSE = "text/event-stream";

/** Yoga's own serialisation minus its internals (`extensions.http`, `unexpected`). */
function serialise(result: unknown): string {
  return JSON.stringify(result, (key, value) => {
    if (key === "extensions" && value && typeof value === "object") {
      const { http: _http, unexpected: _unexpected, ...rest } = value as Record<string, unknown>;
      return Object.keys(rest).length > 0 ? rest : undefined;
    }
    return value;
  });
}

/**
 * Yoga's distinct-connections SSE (graphql-sse format: `event: next` / `event: complete`) plus an
 * `id: <cursor>` line per event, so that a browser EventSource resends it as `Last-Event-ID` and
 * resumes by itself (after `retry:` = `reconnectMs`), and a `:` keep-alive comment every `keepAliveMs`. It pulls from the result's
 * iterator only when the client reads: a slow client stops the producer (whose buffer is bounded).
 */
export function createSseResultProcessor(keepAliveMs: number, reconnectMs: number): ResultProcessor {
  return (result, fetchAPI) => {
    const encoder = new fetchAPI.TextEncoder();
    let iterator: AsyncIterator<unknown>;
    let pinger: NodeJS.Timeout | undefined;
    const stream = new fetchAPI.ReadableStream<Uint8Array>({
      start(controller) {
        // Some browsers only fire `open` once a first byte arrives.
        controller.enqueue(encoder.encode(":\n\n"));
        // How long an EventSource waits before it reconnects (graphql-sse's parser ignores it).
        controller.enqueue(encoder.encode(`retry: ${reconnectMs}\n\n`));
        pinger = setInterval(() => {
          if (controller.desiredSize === null) clearInterval(pinger);
          else if (controller.desiredSize > 0) controller.enqueue(encoder.encode(":\n\n"));
        }, keepAliveMs);
        const single = async function* () {
          yield result;
        };
        iterator = isAsyncIterable(result) ? result[Symbol.asyncIterator]() : single();
      },
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.value != null) {
            const cursor = cursorOfResult(next.value);
            const id = cursor === null ? "" : `id: ${cursor}\n`;
            controller.enqueue(encoder.encode(`${id}event: next\ndata: ${serialise(next.value)}\n\n`));
          }
          if (next.done) {
            clearInterval(pinger);
            controller.enqueue(encoder.encode("event: complete\ndata:\n\n"));
            controller.close();
          }
        } catch (error) {
          clearInterval(pinger);
          controller.error(error);
        }
      },
      async cancel() {
        clearInterval(pinger);
        await iterator.return?.();
      },
    });
    return new fetchAPI.Response(stream, {
      status: 200,
      headers: {
        "Content-Type": SSE,
        Connection: "keep-alive",
        "Cache-Control": "no-cache",
        "Content-Encoding": "none",
      },
    });
  };
}

/** Replaces Yoga's SSE processor for streams (user plugins run after the built-in one). */
export function useSseResultProcessor(keepAliveMs: number, reconnectMs: number): Plugin {
  const processor = createSseResultProcessor(keepAliveMs, reconnectMs);
  return {
    onResultProcess({ request, result, setResultProcessor }) {
      // Streams only: a single result (a query, or a subscription that failed at once) keeps Yoga's.
      if (isAsyncIterable(result) && (request.headers.get("accept") ?? "").includes(SSE)) {
        setResultProcessor(processor, SSE);
      }
    },
  };
}
