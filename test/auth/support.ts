import { createApiToken } from "../../src/auth/token-store.js";
import type { TestApp } from "../support/app.js";
import { type GraphQLResponse, gql } from "../support/graphql-client.js";

export interface TestToken {
  id: string;
  secret: string;
  headers: Record<string, string>;
}

/** A token created directly in the database, as `npm run admin -- tokens create` does. */
export async function newToken(app: TestApp, workspaceId: string, role: string): Promise<TestToken> {
  const { token, secret } = await createApiToken(app.ctx.prisma, {
    workspaceId,
    role,
    name: `${role}@${workspaceId}`,
  });
  return { id: token.id, secret, headers: { authorization: `Bearer ${secret}` } };
}

/** A request as this token (or with exactly these headers). */
export const as = <Data = Record<string, unknown>>(
  app: TestApp,
  headers: Record<string, string>,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<Data>> => gql<Data>(app.baseUrl, query, variables, headers);

export const codeOf = (response: GraphQLResponse<unknown>): string | undefined =>
  response.errors?.[0]?.extensions?.code;

export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

export interface OpenStream {
  status: number;
  /** The next message (comments skipped); null when the stream ended. */
  next(timeoutMs?: number): Promise<SseMessage | null>;
  close(): void;
}

/** A real SSE response read message by message (distinct connections, or single-connection GET). */
export async function openStream(url: string, init: RequestInit = {}): Promise<OpenStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    ...init,
    headers: { accept: "text/event-stream", ...(init.headers as Record<string, string>) },
    signal: controller.signal,
  });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  async function read(): Promise<SseMessage | null> {
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const lines = buffer.slice(0, end).split("\n");
        buffer = buffer.slice(end + 2);
        if (lines.every((line) => line.startsWith(":") || line.startsWith("retry:"))) continue;
        const field = (name: string) =>
          lines
            .filter((line) => line.startsWith(`${name}:`))
            .map((line) => line.slice(name.length + 1).trim());
        return {
          event: field("event")[0] ?? "message",
          data: field("data").join("\n"),
          id: field("id")[0] ?? null,
        };
      }
      const chunk = await reader?.read().catch(() => ({ done: true as const, value: undefined }));
      if (!chunk || chunk.done) return null;
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  }
  return {
    status: response.status,
    next: (timeoutMs = 5_000) =>
      Promise.race([
        read(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`no SSE message within ${timeoutMs} ms`)), timeoutMs).unref(),
        ),
      ]),
    close: () => controller.abort(),
  };
}

/** A subscription over distinct-connections SSE: POST by default, GET with `method: "GET"`. */
export function subscribe(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown>,
  options: { headers?: Record<string, string>; method?: "GET" | "POST"; accessToken?: string } = {},
): Promise<OpenStream> {
  if (options.method === "GET") {
    const params = new URLSearchParams({ query, variables: JSON.stringify(variables) });
    if (options.accessToken) params.set("access_token", options.accessToken);
    return openStream(`${baseUrl}/graphql?${params}`, { headers: options.headers });
  }
  return openStream(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...options.headers },
    body: JSON.stringify({ query, variables }),
  });
}

/** The GraphQL payload of a `next` message. */
export const payload = (message: SseMessage | null) =>
  message?.event === "next"
    ? (JSON.parse(message.data) as {
        data?: Record<string, unknown> | null;
        errors?: { message: string; extensions?: { code?: string } }[];
      })
    : null;
