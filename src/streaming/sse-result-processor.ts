import { isAsyncIterable, type Plugin } from "graphql-yoga";
import { cursorOfResult } from "./stream-cursors.js";

type ResultProcessPayload = Parameters<NonNullable<Plugin["onResultProcess"]>>[0];
type ResultProcessor = Parameters<ResultProcessPayload["setResultProcessor"]>[0];

const SSE = "text/event-stream";
/** A write holds at most about this much: a catch-up of 100,000 events is not one huge chunk. */
const MAX_BATCH_CHARS = 64 * 1024;

/** Yoga's internals that never go out: `extensions.http` (status, headers) and `unexpected`. */
function publicExtensions(extensions: unknown): Record<string, unknown> | undefined {
  if (!extensions || typeof extensions !== "object") return undefined;
  const { http: _http, unexpected: _unexpected, ...rest } = extensions as Record<string, unknown>;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/**
 * Yoga's own serialisation minus its internals. Results without errors (every streamed event) take
 * the fast way: only the top-level `extensions` are filtered, and the data is stringified as is, with
 * no replacer called for each of its keys (a replacer cost about as much as the rest of the write).
 */
export function serialiseResult(result: unknown): string {
  const { errors, extensions, ...rest } = result as { errors?: unknown; extensions?: unknown };
  if (errors === undefined) {
    const kept = publicExtensions(extensions);
    return JSON.stringify(kept ? { ...rest, extensions: kept } : rest);
  }
  return JSON.stringify(result, (key, value) => (key === "extensions" ? publicExtensions(value) : value));
}

function frameOf(result: unknown): string {
  const cursor = cursorOfResult(result);
  const id = cursor === null ? "" : `id: ${cursor}\n`;
  return `${id}event: next\ndata: ${serialiseResult(result)}\n\n`;
}

/** At most this many writes in a row go out without looking for more ready results. */
const MAX_SKIPS = 64;
const NOT_YET = Symbol("not yet");
let turn: Promise<typeof NOT_YET> | null = null;
/**
 * Resolves after the I/O callbacks of this turn of the event loop: whatever is ready by then is.
 * One timer per turn, shared by every stream (5,000 subscribers of a live event all ask in the same turn).
 */
const nextTurn = (): Promise<typeof NOT_YET> => {
  turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = null;
      resolve(NOT_YET);
    }),
  );
  return turn;
};

/**
 * Yoga's distinct-connections SSE (graphql-sse format: `event: next` / `event: complete`) plus an
 * `id: <cursor>` line per event, so that a browser EventSource resends it as `Last-Event-ID` and
 * resumes by itself (after `retry:` = `reconnectMs`), and a `:` keep-alive comment every
 * `keepAliveMs`. It pulls from the result's iterator only when the client reads: a slow client stops
 * the producer (whose buffer is bounded).
 *
 * Results that are ready together (a catch-up replaying stored events) go out in one write: one
 * socket write per event made the system call the largest cost of a catch-up. A result that is not
 * ready within the current turn of the event loop is not waited for: what is ready goes out at once.
 * Streams whose results keep not being ready (live ones) look less and less often (see `skips`).
 */
export function createSseResultProcessor(keepAliveMs: number, reconnectMs: number): ResultProcessor {
  return (result, fetchAPI) => {
    const encoder = new fetchAPI.TextEncoder();
    let iterator: AsyncIterator<unknown>;
    let pinger: NodeJS.Timeout | undefined;
    /** The next result, asked for but not ready when the previous write went out. */
    let pending: Promise<IteratorResult<unknown>> | null = null;
    // A live stream's next result is never ready at once: looking for one costs a turn of the event
    // loop per event and delays it. After each miss in a row, twice as many writes go out without
    // looking (up to MAX_SKIPS); a hit (a catch-up) starts over.
    let lostInARow = 0;
    let skips = 0;
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
        let text = "";
        try {
          let next = await (pending ?? iterator.next());
          pending = null;
          for (;;) {
            if (next.value != null) text += frameOf(next.value);
            if (next.done) {
              clearInterval(pinger);
              controller.enqueue(encoder.encode(`${text}event: complete\ndata:\n\n`));
              controller.close();
              return;
            }
            if (text.length >= MAX_BATCH_CHARS) break;
            if (skips > 0) {
              skips--;
              break;
            }
            const candidate = iterator.next();
            const ready = await Promise.race([candidate, nextTurn()]);
            if (ready === NOT_YET) {
              pending = candidate;
              // Rejections are handled by the pull that awaits it; none is left unhandled meanwhile.
              candidate.catch(() => undefined);
              lostInARow++;
              skips = Math.min(2 ** (lostInARow - 1), MAX_SKIPS);
              break;
            }
            lostInARow = 0;
            next = ready;
          }
          controller.enqueue(encoder.encode(text));
        } catch (error) {
          clearInterval(pinger);
          // What was ready before the failure still goes out (with its cursors).
          if (text) controller.enqueue(encoder.encode(text));
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
