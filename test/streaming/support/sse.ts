import http from "node:http";
import { Readable } from "node:stream";
/** One frame of a text/event-stream: a message (event/data/id) or a `:` comment. */
export type SseFrame =
  | { kind: "comment" }
  | { kind: "message"; event: string; data: string; id: string | null };

export interface SseStream {
  status: number;
  headers: Headers;
  frames: AsyncGenerator<SseFrame>;
  /** Cuts the connection (as a client that goes away). */
  close(): void;
}

/** Opens a real SSE response with fetch and parses it frame by frame. */
export async function openSse(url: string, init: RequestInit = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    ...init,
    headers: { accept: "text/event-stream", ...(init.headers as Record<string, string>) },
    signal: controller.signal,
  });
  return {
    status: response.status,
    headers: response.headers,
    frames: response.body
      ? parseFrames(response.body, controller.signal)
      : parseFrames(new ReadableStream(), controller.signal),
    close: () => controller.abort(),
  };
}

export interface GraphQLPayload<Data> {
  data?: Data | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  extensions?: { cursor?: string };
}

/** Where to subscribe, and as whom (the `Authorization` header). */
export interface SseTarget {
  baseUrl: string;
  headers: Record<string, string>;
}

/** A GraphQL subscription over distinct-connections SSE (GET or POST /graphql). */
export function subscribeSse(
  target: SseTarget,
  query: string,
  variables: Record<string, unknown>,
  options: { method?: "GET" | "POST"; headers?: Record<string, string> } = {},
): Promise<SseStream> {
  const baseUrl = target.baseUrl;
  options = { ...options, headers: { ...target.headers, ...options.headers } };
  if (options.method === "GET") {
    const params = new URLSearchParams({ query, variables: JSON.stringify(variables) });
    return openSse(`${baseUrl}/graphql?${params}`, { headers: options.headers });
  }
  return openSse(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...options.headers },
    body: JSON.stringify({ query, variables }),
  });
}

export const payloadOf = <Data>(frame: SseFrame): GraphQLPayload<Data> | null =>
  frame.kind === "message" && frame.event === "next"
    ? (JSON.parse(frame.data) as GraphQLPayload<Data>)
    : null;

/** The frames of a text/event-stream body, as they arrive. */
export async function* parseFrames(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
        const lines = block.split("\n");
        if (lines.every((line) => line.startsWith(":"))) {
          yield { kind: "comment" };
          continue;
        }
        let event = "message";
        let id: string | null = null;
        const data: string[] = [];
        for (const line of lines) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
          else if (field === "id") id = value;
        }
        yield { kind: "message", event, data: data.join("\n"), id };
      }
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
  }
}

/**
 * A subscription whose client does not read (node:http with the response paused from the start):
 * the kernel's buffers fill, then the server's writes block. `resume()` starts reading.
 */
export function subscribePaused(
  target: SseTarget,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ resume(): SseStream }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${target.baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...target.headers },
    });
    request.on("error", reject);
    request.on("response", (response) => {
      response.pause();
      resolve({
        resume: () => ({
          status: response.statusCode ?? 0,
          headers: new Headers(
            Object.entries(response.headers).flatMap(([name, value]) =>
              value === undefined ? [] : [[name, String(value)] as [string, string]],
            ),
          ),
          frames: parseFrames(Readable.toWeb(response) as ReadableStream<Uint8Array>),
          close: () => request.destroy(),
        }),
      });
    });
    request.end(JSON.stringify({ query, variables }));
  });
}
