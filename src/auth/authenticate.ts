import type pg from "pg";
import { withDatabaseDeadline } from "../db/unavailable.js";
import { unauthenticated } from "./auth-errors.js";
import type { Caller } from "./caller.js";
import { callerOfSecret } from "./token-store.js";

/** The query parameter EventSource clients (which cannot send headers) put their token in. */
export const ACCESS_TOKEN_PARAM = "access_token";

/**
 * The bearer secret of a request: the Authorization header, or, on GET event-stream requests only,
 * the `access_token` query parameter (a URL ends up in logs and histories, so nowhere else).
 */
export function bearerSecretOf(request: Request): string | null {
  const header = request.headers.get("authorization");
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1] ?? null;
  }
  const isEventStream = (request.headers.get("accept") ?? "").includes("text/event-stream");
  if (request.method === "GET" && isEventStream) {
    return new URL(request.url, "http://localhost/").searchParams.get(ACCESS_TOKEN_PARAM);
  }
  return null;
}

const callers = new WeakMap<Request, Promise<Caller>>();

/** The caller of a request (looked up once per request), or an UNAUTHENTICATED error. */
export function authenticate(pool: pg.Pool, request: Request): Promise<Caller> {
  let caller = callers.get(request);
  if (!caller) {
    caller = (async () => {
      const secret = bearerSecretOf(request);
      if (!secret) throw unauthenticated("An API token is required: send `Authorization: Bearer <token>`.");
      // Every request asks the database here first: a stalled database fails it fast (UNAVAILABLE).
      const found = await withDatabaseDeadline(callerOfSecret(pool, secret));
      if (!found) throw unauthenticated("The API token is unknown or revoked.");
      return found;
    })();
    callers.set(request, caller);
  }
  return caller;
}
