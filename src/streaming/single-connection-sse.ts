import { type ExecutionArgs, getOperationAST } from "graphql";
import type { Response as SseResponse } from "graphql-sse";
import { TOKEN_HEADER_KEY, TOKEN_QUERY_KEY } from "graphql-sse";
import { createHandler } from "graphql-sse/lib/use/fetch";
import type { Plugin } from "graphql-yoga";
import { StreamReservations } from "./stream-reservations.js";

export const SINGLE_CONNECTION_PATH = "/graphql/stream";

/** One reserved event stream (graphql-sse token): how much was queued for it and how much it sent. */
interface StreamBudget {
  queued: number;
  delivered: number;
  waiters: Set<() => void>;
  closed: boolean;
}

const NEXT = new TextEncoder().encode("event: next");
const startsWithNext = (chunk: Uint8Array) => NEXT.every((byte, index) => chunk[index] === byte);

/**
 * graphql-sse's single-connection mode (PUT reserves a stream, POSTs add operations, one GET carries
 * them all), as @graphql-yoga/plugin-graphql-sse serves it, plus what that plugin lacks:
 * - bounded memory: the library drains each operation into an unbounded queue; here an operation
 *   waits (in `onNext`, which the library awaits) while more than `maxQueued` messages of its stream
 *   are not yet sent, so the subscription stops being pulled and its own bounded buffer decides
 *   (a slow client gets a "slow consumer" end, then resumes);
 * - cleanup: operations come in on POSTs that already got their 202, so their request signal never
 *   fires; the library returns their iterators when the GET goes away, and our iterators abort at
 *   `return()` (see closableStream), so nothing waits on;
 * - keep-alive comments every `keepAliveMs` while the stream is idle (the library's fixed 12 s stay).
 */
export interface SingleConnectionOptions {
  maxQueued: number;
  keepAliveMs: number;
  /** Reservations bound to the API token that made them (see stream-reservations.ts). */
  reservations: { ttlMs: number; maxPerToken: number; callerTokenId: (request: Request) => Promise<string> };
}

/** An error answer in graphql-sse's own response shape. */
const jsonError = (
  status: number,
  message: string,
  extensions: Record<string, unknown> = {},
): SseResponse => [
  JSON.stringify({ errors: [{ message, ...(Object.keys(extensions).length > 0 ? { extensions } : {}) }] }),
  { status, statusText: "", headers: { "content-type": "application/json; charset=utf-8" } },
];

export function useSingleConnectionSse(options: SingleConnectionOptions): Plugin {
  const budgets = new Map<string, StreamBudget>();
  const budgetOf = (token: string): StreamBudget => {
    let budget = budgets.get(token);
    if (!budget) {
      budget = { queued: 0, delivered: 0, waiters: new Set(), closed: false };
      budgets.set(token, budget);
    }
    return budget;
  };
  const tokenOf = (headers: { get(name: string): unknown }, url: string): string | null => {
    const header = headers.get(TOKEN_HEADER_KEY);
    if (typeof header === "string" && header) return header;
    return new URL(url, "http://localhost/").searchParams.get(TOKEN_QUERY_KEY);
  };
  const release = (budget: StreamBudget) => {
    for (const wake of budget.waiters) wake();
    budget.waiters.clear();
  };

  const contexts = new WeakMap<Request, object>();
  let handler: (request: Request) => Promise<Response>;
  let fetchAPI: { Request: typeof Request };
  /** Requests this module makes itself to free an expired reservation inside the library. */
  const cleanups = new WeakSet<Request>();
  const { callerTokenId, ttlMs, maxPerToken } = options.reservations;
  const reservations = new StreamReservations(ttlMs, maxPerToken, (streamToken) => {
    // Connecting and going away at once is the library's one path that forgets a stream (and
    // returns any operation already added to it).
    const request = new fetchAPI.Request(`http://localhost${SINGLE_CONNECTION_PATH}`, {
      headers: { accept: "text/event-stream", [TOKEN_HEADER_KEY]: streamToken },
    });
    cleanups.add(request);
    void handler(request).then((response) => response.body?.cancel());
  });
  return {
    onYogaInit({ yoga }) {
      fetchAPI = yoga.fetchAPI;
      handler = createHandler(
        {
          /**
           * The stream token of a request. PUT always gets a new unguessable one owned by the caller's
           * API token; any other request naming a reservation must come from that same API token,
           * or is answered as if the reservation did not exist.
           */
          async authenticate(req) {
            const streamToken = tokenOf(req.headers, req.url);
            if (cleanups.has(req.raw)) return streamToken;
            const caller = await callerTokenId(req.raw);
            if (req.method === "PUT") {
              return (
                reservations.reserve(caller) ??
                jsonError(
                  429,
                  `This token already has ${maxPerToken} stream reservations, the most allowed.`,
                  {
                    code: "TOO_MANY_SUBSCRIPTIONS",
                    limit: maxPerToken,
                  },
                )
              );
            }
            if (!streamToken) return null;
            const check = reservations.check(streamToken, caller);
            if (check === "not-owner") return jsonError(404, "Stream not found");
            return streamToken;
          },
          onSubscribe(req, params) {
            const enveloped = yoga.getEnveloped({ ...contexts.get(req.raw), request: req.raw, params });
            const document = enveloped.parse(params.query);
            const errors = enveloped.validate(enveloped.schema, document);
            // graphql-sse only recognises a result that has `data`: without it, `{ errors }` is taken
            // for execution arguments and answered with a 400 "Unable to detect operation AST".
            if (errors.length > 0) return { data: null, errors };
            return (async () => {
              const args: ExecutionArgs = {
                schema: enveloped.schema,
                document,
                contextValue: await enveloped.contextFactory(),
                variableValues: params.variables,
                operationName: params.operationName,
              };
              const operation = getOperationAST(document, params.operationName);
              const result = await (operation?.operation === "subscription"
                ? enveloped.subscribe(args)
                : enveloped.execute(args));
              // A subscription refused at subscribe time (NOT_FOUND, say) resolves to `{ errors }`.
              return Symbol.asyncIterator in result || "data" in result ? result : { data: null, ...result };
            })();
          },
          async onNext(_ctx, req) {
            const token = tokenOf(req.headers, req.url);
            if (!token) return;
            const budget = budgetOf(token);
            budget.queued++;
            while (!budget.closed && budget.queued - budget.delivered > options.maxQueued) {
              await new Promise<void>((resolve) => budget.waiters.add(resolve));
            }
          },
        },
        yoga.fetchAPI,
      );
    },
    onRequest({ request, endResponse, serverContext }) {
      const path = request.url.split("?")[0] ?? "";
      if (!path.endsWith(SINGLE_CONNECTION_PATH)) return;
      contexts.set(request, serverContext as object);
      const token = tokenOf(request.headers, request.url);
      const isStream = request.method === "GET" && request.headers.get("accept") === "text/event-stream";
      return handler(request).then((response) => {
        if (!isStream || !token || !response.body || response.status !== 200) return endResponse(response);
        reservations.connected(token);
        const budget = budgetOf(token);
        endResponse(
          meteredStream(
            response,
            options.keepAliveMs,
            () => {
              reservations.release(token);
              budget.closed = true;
              release(budget);
              if (budgets.get(token) === budget) budgets.delete(token);
            },
            () => {
              budget.delivered++;
              if (budget.queued - budget.delivered <= options.maxQueued) release(budget);
            },
          ),
        );
      });
    },
  };
}

/** The GET stream's body, counting the `next` messages it sends and pinging while idle. */
function meteredStream(
  response: Response,
  keepAliveMs: number,
  onClose: () => void,
  onDelivered: () => void,
): Response {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const ping = new TextEncoder().encode(":\n\n");
  let reading: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      reading ??= reader.read();
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<"idle">((resolve) => {
        timer = setTimeout(() => resolve("idle"), keepAliveMs);
      });
      const result = await Promise.race([reading, idle]);
      clearTimeout(timer);
      if (result === "idle") {
        controller.enqueue(ping);
        return;
      }
      reading = null;
      if (result.done) {
        onClose();
        controller.close();
        return;
      }
      if (startsWithNext(result.value)) onDelivered();
      controller.enqueue(result.value);
    },
    async cancel(reason) {
      onClose();
      await reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
}
