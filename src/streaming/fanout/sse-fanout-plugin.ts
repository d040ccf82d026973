import type { EventEmitter } from "node:events";
import { ServerResponse } from "node:http";
import { isAsyncIterable, type Plugin } from "graphql-yoga";
import type { AppContext } from "../../app/app-context.js";
import { tooManySubscriptions, unauthenticated } from "../../auth/auth-errors.js";
import { subscriptionGuardFor } from "../../auth/subscription-guard.js";
import { serialiseResult } from "../sse-result-processor.js";
import { streamingFor } from "../streaming-service.js";
import { takeFanoutPlan } from "./fanout-plan.js";
import { SseSubscriber } from "./sse-subscriber.js";

const SSE = "text/event-stream";
const SSE_HEADERS = {
  "Content-Type": SSE,
  Connection: "keep-alive",
  "Cache-Control": "no-cache",
  "Content-Encoding": "none",
};

/** The server context the HTTP server passes when it can hand a response over to the fan-out. */
export interface FanoutServerContext {
  res: ServerResponse;
  /** Set by the HTTP server: it calls `takeOverResponse` with every answer it gets from Yoga. */
  sseTakeover: true;
}

const takeovers = new WeakMap<ServerResponse, (res: ServerResponse) => void>();

type Emitter = Pick<EventEmitter, "eventNames" | "rawListeners" | "removeListener">;

/**
 * The listeners `emitters` have now; `drop()` later removes every listener added since. Yoga's
 * request handling leaves listeners on the Node request and response (its abort signal, its body
 * pipeline) that would keep the whole Yoga request of a taken-over stream alive for as long as the
 * connection lasts (about 25 KB per subscriber, measured).
 */
export function listenersSince(...emitters: Emitter[]): { drop(): void } {
  const before = emitters.map((emitter) => {
    const byEvent = new Map<string | symbol, Set<unknown>>();
    for (const name of emitter.eventNames()) byEvent.set(name, new Set(emitter.rawListeners(name)));
    return byEvent;
  });
  return {
    drop() {
      emitters.forEach((emitter, index) => {
        for (const name of emitter.eventNames()) {
          const kept = before[index]?.get(name);
          for (const listener of emitter.rawListeners(name)) {
            if (!kept?.has(listener)) emitter.removeListener(name, listener as (...args: unknown[]) => void);
          }
        }
      });
    },
  };
}

/**
 * After Yoga answered: when the answer is a subscription the fan-out took over, Yoga's listeners
 * are dropped, the subscriber starts on the Node response (with the status and headers Yoga's
 * plugins gave, CORS included) and true is returned; otherwise the caller sends Yoga's answer.
 */
export function takeOverResponse(
  res: ServerResponse,
  response: Response,
  yogaListeners: { drop(): void },
): boolean {
  const start = takeovers.get(res);
  if (!start) return false;
  takeovers.delete(res);
  yogaListeners.drop();
  res.setHeaders(response.headers);
  // The body ends where the connection does (HTTP/1.1 allows it, EventSource and fetch expect it
  // of a stream anyway): each event is then ONE socket write of the group's bytes, where chunked
  // framing made it a cork, three buffers and a writev per subscriber (35% of the server's CPU at
  // 10,000 subscribers, measured).
  res.removeHeader("transfer-encoding");
  res.setHeader("connection", "close");
  res.writeHead(response.status);
  start(res);
  return true;
}

const frameOfErrors = (errors: unknown[]) =>
  Buffer.from(`event: next\ndata: ${serialiseResult({ errors })}\n\n`);

// Callbacks that outlive the request are made out here: a closure made inside the result
// processor would share its scope, and with it the request and Yoga's result, for as long as it lives.
const onRevoked = (subscriber: SseSubscriber) => () =>
  subscriber.finish(frameOfErrors([unauthenticated("The API token was revoked.")]));
const starter = (subscriber: SseSubscriber) => (res: ServerResponse) => subscriber.start(res);

/**
 * Distinct-connections SSE (GET/POST /graphql with `Accept: text/event-stream`) of `runEvents` and
 * `events` served by the fan-out: Yoga authenticates, parses, validates and subscribes (the
 * resolver runs its checks and records a plan); then the request's Yoga objects are let go, and the
 * connection holds only its socket, its cursor and its group, which executes and serialises each
 * event once for all its subscribers. Other streams (runUpdated, single-connection mode, callers
 * without a Node response) keep Yoga's own path.
 */
export function useSseFanout(app: AppContext): Plugin {
  return {
    onResultProcess({ request, result, setResultProcessor, serverContext }) {
      const context = serverContext as Partial<FanoutServerContext>;
      if (!isAsyncIterable(result) || !(request.headers.get("accept") ?? "").includes(SSE)) return;
      const plan = takeFanoutPlan(request);
      const res = context.res;
      if (!plan || context.sseTakeover !== true || !(res instanceof ServerResponse)) return;
      setResultProcessor((_result, fetchAPI) => {
        // The subscription's own stream never runs: returning it leaves the guard's count (taken
        // again below for the subscriber) and drops the resolver's stream before it starts.
        void (result as AsyncIterableIterator<unknown>).return?.();
        const guard = subscriptionGuardFor(app);
        const fanout = streamingFor(app).fanout;
        const subscriber = new SseSubscriber(fanout, plan);
        const leave = guard.hold(plan.tokenId, onRevoked(subscriber));
        if (!leave) {
          const refused = frameOfErrors([tooManySubscriptions(app.config.MAX_SUBSCRIPTIONS_PER_TOKEN)]);
          return new fetchAPI.Response(`${refused}event: complete\ndata:\n\n`, {
            status: 200,
            headers: SSE_HEADERS,
          });
        }
        subscriber.leaveGuard = leave;
        takeovers.set(res, starter(subscriber));
        return new fetchAPI.Response(null, { status: 200, headers: SSE_HEADERS });
      }, SSE);
    },
  };
}
