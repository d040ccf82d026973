import { createYoga, type Plugin, type YogaLogger } from "graphql-yoga";
import type { AppContext } from "../app/app-context.js";
import { authPlugins, graphiqlEnabled } from "../auth/auth-plugins.js";
import { authenticate } from "../auth/authenticate.js";
import type { Logger } from "../config/logger.js";
import { streamingPlugins } from "../streaming/streaming-plugins.js";
import type { GraphQLContext } from "./context.js";
import { createMaskError, UNEXPECTED_ERROR_MESSAGE } from "./errors.js";
import { graphiqlOptions, renderGraphiQL } from "./graphiql.js";
import { useInputSafety } from "./input-safety.js";
import { corsFor } from "./origin-policy.js";
import { useReadModelLagNotes } from "./read-model-lag.js";
import { currentRequestScope } from "./request-scope.js";
import { useResponseBudget } from "./response-budget.js";
import { getSchema } from "./schema.js";

export const GRAPHQL_PATH = "/graphql";

const yogaLogger = (logger: Logger): YogaLogger => {
  const text = (args: unknown[]) =>
    args.map((arg) => (typeof arg === "string" ? arg : String(arg))).join(" ");
  return {
    debug: (...args) => logger.debug(text(args)),
    info: (...args) => logger.info(text(args)),
    warn: (...args) => logger.warn(text(args)),
    error: (...args) => logger.error(text(args)),
  };
};

/** Records the operation's name in the request scope, for the request's log line. */
const recordOperationName: Plugin = {
  onParams({ params }) {
    const scope = currentRequestScope();
    if (scope) scope.operationName = params.operationName ?? null;
  },
};

/** GraphQL over HTTP (and GraphiQL for browsers) at /graphql; every operation needs an API token. */
export function createGraphQLHandler(app: AppContext) {
  const logger = app.logger.child({ component: "api" });
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema: getSchema(),
    graphqlEndpoint: GRAPHQL_PATH,
    // Served from the installed package, with a token placeholder: never a secret in the page.
    graphiql: graphiqlEnabled(app) ? graphiqlOptions(app.config.DATA_DIR) : false,
    renderGraphiQL,
    landingPage: false,
    cors: corsFor(app.config),
    // /healthz and /readyz are served before Yoga (see http-server.ts).
    healthCheckEndpoint: "/graphql/health",
    logging: yogaLogger(logger),
    maskedErrors: {
      maskError: createMaskError(logger, app.config.UNAVAILABLE_RETRY_AFTER_MS),
      errorMessage: UNEXPECTED_ERROR_MESSAGE,
    },
    plugins: [
      recordOperationName,
      useReadModelLagNotes(),
      ...authPlugins(app),
      // After the auth plugins: GraphQL Armor's token limit replaces the parse function outright, so
      // input safety's parse wrapper (stack overflow → BAD_USER_INPUT) must wrap Armor's, not precede it.
      useInputSafety(),
      useResponseBudget({
        maxLargeValues: app.config.MAX_LARGE_VALUES_PER_REQUEST,
        maxResponseBytes: app.config.MAX_RESPONSE_BYTES,
        maxConcurrent: app.config.MAX_EXPENSIVE_QUERIES_PER_TOKEN,
      }),
      ...streamingPlugins(app),
    ],
    // An unauthenticated request fails here, before anything is parsed or executed.
    context: async ({ request }): Promise<GraphQLContext> => {
      const caller = await authenticate(app.db.pool, request);
      const requestId = currentRequestScope()?.requestId ?? "none";
      return {
        app,
        workspaceId: caller.workspaceId,
        caller,
        requestId,
        logger: logger.child({ requestId, tokenId: caller.tokenId }),
      };
    },
  });
}
