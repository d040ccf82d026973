import type { Config } from "../config/config.js";

/** Outside production, any port of http://localhost (a dev server of a web app, say) may call the API. */
const LOCAL_DEV_ORIGIN = /^http:\/\/localhost(:\d{1,5})?$/;

/** Headers a browser page may send and read cross-origin. */
const ALLOWED_HEADERS = [
  "authorization",
  "content-type",
  "accept",
  "last-event-id",
  "x-request-id",
  "x-graphql-event-stream-token",
];
const EXPOSED_HEADERS = ["x-request-id", "retry-after"];

/** Whether a browser page from `origin` may read the API's answers (same-origin pages need no CORS). */
export function originAllowed(config: Pick<Config, "CORS_ORIGINS" | "NODE_ENV">, origin: string): boolean {
  if (config.CORS_ORIGINS.includes(origin)) return true;
  return config.NODE_ENV !== "production" && LOCAL_DEV_ORIGIN.test(origin);
}

/**
 * Yoga's CORS options per request: exact listed origins only, and never `allow-credentials` (the API
 * authenticates with bearer tokens, not cookies). Any other origin gets no CORS headers at all, so the
 * browser keeps the answer from the page; same-origin pages (GraphiQL, the console) need none.
 */
export function corsFor(config: Pick<Config, "CORS_ORIGINS" | "NODE_ENV">) {
  return (request: Request) => {
    const origin = request.headers.get("origin");
    if (!origin || !originAllowed(config, origin)) return false as const;
    return {
      origin: [origin],
      credentials: false,
      methods: ["GET", "POST", "PUT", "DELETE"],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    };
  };
}
