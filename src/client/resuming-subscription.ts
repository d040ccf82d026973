import { type Client, createClient, type ExecutionResult } from "graphql-sse";
import { type ErrorCode, isErrorCode, TERMINAL_ERROR_CODES } from "../shared/error-codes.js";

/**
 * A subscription that survives drops: it remembers the cursor of the last event it received (every
 * streamed result carries it in `extensions.cursor`) and, whenever the connection drops or the
 * server ends the stream (maximum duration, slow consumer, server restart), subscribes again from
 * that cursor, with capped exponential backoff. The server then sends exactly what came after it.
 *
 * For web clients:
 *
 *   const sub = subscribeWithResume({
 *     url: "/graphql",
 *     query: "subscription ($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision type data } }",
 *     variables: { runId },
 *     cursor: { variable: "after", type: "int" },   // events(after: String): type "string"
 *     onData: (data) => render(data.runEvents),
 *     onError: (error) => showGone(error),          // NOT_FOUND etc.: the stream will not come back
 *   });
 *   // later: sub.dispose();
 *
 * runUpdated has no cursor (it starts with the current state): leave `cursor` out.
 */
export interface ResumingSubscriptionOptions<Data> {
  url: string;
  query: string;
  variables?: Record<string, unknown>;
  /** The variable that takes the cursor, and its GraphQL type (Int for runEvents, String for events). */
  cursor?: { variable: string; type: "int" | "string" };
  /** "single connection mode" (/graphql/stream): one connection for every operation of the client. */
  singleConnection?: boolean;
  onData(data: Data, cursor: string | null): void;
  /** A failure the stream does not come back from (NOT_FOUND, BAD_USER_INPUT, ...); it is closed. */
  onError?(error: GraphQLErrorLike): void;
  /** Transient trouble (the store is down, the connection dropped): it resumes by itself. */
  onNotice?(notice: { code: NoticeCode; retryAfterMs: number | null }): void;
  /** Where the connection stands, for a status display: every change is reported. */
  onStatus?(status: ConnectionStatus): void;
  retry?: { initialMs?: number; maxMs?: number };
  headers?: Record<string, string>;
  fetchFn?: typeof fetch;
}

/**
 * connecting: a request is on its way; live: the server answered and streams; reconnecting: it
 * dropped and the next attempt starts at `retryAt` (epoch ms); ended: it stopped for good.
 */
export type ConnectionStatus =
  | { state: "connecting" }
  | { state: "live" }
  | { state: "reconnecting"; retryAt: number }
  | { state: "ended"; reason: "disposed" | "error" };

export interface GraphQLErrorLike {
  message: string;
  extensions?: { code?: string; retryAfterMs?: number; [key: string]: unknown };
}

export interface ResumingSubscription {
  /** Cursor of the last event delivered, null before the first. */
  readonly cursor: string | null;
  /** How many times it subscribed (1 + the resumptions). */
  readonly attempts: number;
  dispose(): void;
  /** Settles when the subscription stops for good (disposed, or a terminal error). */
  readonly done: Promise<void>;
}

/** A server's code, or the client's own: the connection dropped, or the server sent no known code. */
export type NoticeCode = ErrorCode | "CONNECTION_LOST" | "UNKNOWN";

export function subscribeWithResume<Data = Record<string, unknown>>(
  options: ResumingSubscriptionOptions<Data>,
): ResumingSubscription {
  const initialMs = options.retry?.initialMs ?? 250;
  const maxMs = options.retry?.maxMs ?? 10_000;
  let cursor: string | null = null;
  let attempts = 0;
  let disposed = false;
  let current: AsyncIterableIterator<unknown> | null = null;
  let wake: (() => void) | null = null;
  let endedBy: "disposed" | "error" = "disposed";

  const client: Client = createClient({
    url: options.url,
    singleConnection: options.singleConnection ?? false,
    // Retries are ours: the library's would resend the first request, replaying from the start.
    retryAttempts: 0,
    ...(options.fetchFn ? { fetchFn: options.fetchFn } : {}),
    // Distinct connections also send Last-Event-ID, as an EventSource would.
    headers: () => ({
      ...options.headers,
      ...(cursor !== null && !options.singleConnection ? { "last-event-id": cursor } : {}),
    }),
  } as Parameters<typeof createClient>[0]);

  const variablesNow = (): Record<string, unknown> => {
    const variables = { ...options.variables };
    if (options.cursor && cursor !== null) {
      variables[options.cursor.variable] = options.cursor.type === "int" ? Number(cursor) : cursor;
    }
    return variables;
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  const loop = async (): Promise<void> => {
    let failures = 0;
    const backoffDelay = () => Math.min(initialMs * 2 ** failures++, maxMs) * (0.8 + Math.random() * 0.4);
    while (!disposed) {
      attempts++;
      let delay = 0;
      let receivedNothing = true;
      try {
        options.onStatus?.({ state: "connecting" });
        const iterator = client.iterate<Data, { cursor?: string }>(
          { query: options.query, variables: variablesNow() },
          options.singleConnection ? undefined : { connected: () => options.onStatus?.({ state: "live" }) },
        );
        current = iterator;
        for await (const result of iterator as AsyncIterable<ExecutionResult<Data, { cursor?: string }>>) {
          if (result.errors?.length) {
            const error = result.errors[0] as GraphQLErrorLike;
            const code = isErrorCode(error.extensions?.code) ? error.extensions.code : "UNKNOWN";
            if (code !== "UNKNOWN" && TERMINAL_ERROR_CODES.has(code)) {
              endedBy = "error";
              options.onError?.(error);
              disposed = true;
              break;
            }
            const retryAfterMs = error.extensions?.retryAfterMs;
            options.onNotice?.({
              code,
              retryAfterMs: typeof retryAfterMs === "number" ? retryAfterMs : null,
            });
            continue;
          }
          if (receivedNothing && options.singleConnection) options.onStatus?.({ state: "live" });
          failures = 0;
          receivedNothing = false;
          const next = result.extensions?.cursor;
          if (typeof next === "string") cursor = next;
          if (result.data) options.onData(result.data, cursor);
        }
        // Completed by the server (maximum duration, slow consumer, shutdown): resume at once, unless
        // it ended without anything (then back off, so a failing server is not hammered).
        if (receivedNothing) delay = backoffDelay();
      } catch (error) {
        if (disposed) break;
        delay = backoffDelay();
        options.onNotice?.({ code: "CONNECTION_LOST", retryAfterMs: Math.round(delay) });
        void error;
      } finally {
        current = null;
      }
      if (!disposed) options.onStatus?.({ state: "reconnecting", retryAt: Date.now() + delay });
      if (!disposed && delay > 0) await pause(delay);
    }
    options.onStatus?.({ state: "ended", reason: endedBy });
    client.dispose();
  };

  const done = loop();
  return {
    get cursor() {
      return cursor;
    },
    get attempts() {
      return attempts;
    },
    done,
    dispose() {
      disposed = true;
      wake?.();
      void current?.return?.();
    },
  };
}
