import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { GraphQLContext } from "../api/context.js";
import type { AppContext } from "../app/app-context.js";
import { SINGLE_CONNECTION_PATH } from "../streaming/single-connection-sse.js";
import { authenticate } from "./authenticate.js";
import { useAuthorization } from "./authorization.js";
import { queryLimitPlugins } from "./query-limits.js";
import { subscriptionGuardFor, useSubscriptionGuard } from "./subscription-guard.js";
import { TokenBuckets } from "./token-bucket.js";

/**
 * The single-connection SSE endpoint (graphql-sse's PUT/POST/GET/DELETE at /graphql/stream) is
 * answered by graphql-sse itself, before Yoga builds any context: every one of its requests is
 * authenticated here first. Operations it then executes are authenticated again by the context.
 */
const useSingleConnectionAuth = (app: AppContext): Plugin => ({
  async onRequest({ request, endResponse, fetchAPI }) {
    const path = request.url.split("?")[0] ?? "";
    if (!path.endsWith(SINGLE_CONNECTION_PATH)) return;
    try {
      await authenticate(app.db.pool, request);
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      const http = error.extensions.http as { status: number; headers?: Record<string, string> };
      const body = { errors: [{ message: error.message, extensions: { code: error.extensions.code } }] };
      endResponse(
        new fetchAPI.Response(JSON.stringify(body), {
          status: http.status,
          headers: { "content-type": "application/json; charset=utf-8", ...http.headers },
        }),
      );
    }
  },
});

/** Introspection and GraphiQL default to on, except in production. */
export const introspectionEnabled = (app: AppContext): boolean =>
  app.config.GRAPHQL_INTROSPECTION ?? app.config.NODE_ENV !== "production";
export const graphiqlEnabled = (app: AppContext): boolean =>
  app.config.GRAPHIQL ?? app.config.NODE_ENV !== "production";

/** Authentication, roles and limits as Yoga plugins; they go before the streaming plugins. */
export function authPlugins(app: AppContext): Plugin<GraphQLContext>[] {
  const { config } = app;
  const guard = subscriptionGuardFor(app);
  return [
    useSingleConnectionAuth(app) as Plugin<GraphQLContext>,
    ...(queryLimitPlugins({
      maxDepth: config.MAX_QUERY_DEPTH,
      maxCost: config.MAX_QUERY_COMPLEXITY,
      maxAliases: config.MAX_QUERY_ALIASES,
      maxTokens: config.MAX_QUERY_TOKENS,
      introspection: introspectionEnabled(app),
    }) as Plugin<GraphQLContext>[]),
    useAuthorization(
      new TokenBuckets(config.COMMAND_RATE_PER_SECOND, config.COMMAND_BURST),
      config.COMMAND_BURST,
    ),
    useSubscriptionGuard(guard),
  ];
}
