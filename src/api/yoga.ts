import { createYoga, type Plugin, type YogaLogger } from "graphql-yoga";
import type { AppContext } from "../app/app-context.js";
import type { Logger } from "../config/logger.js";
import { streamingPlugins } from "../streaming/streaming-plugins.js";
import { DEFAULT_WORKSPACE, type GraphQLContext } from "./context.js";
import { createMaskError, UNEXPECTED_ERROR_MESSAGE } from "./errors.js";
import { currentRequestScope } from "./request-scope.js";
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

/** GraphQL over HTTP (and GraphiQL for browsers) at /graphql. */
export function createGraphQLHandler(app: AppContext) {
  const logger = app.logger.child({ component: "api" });
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema: getSchema(),
    graphqlEndpoint: GRAPHQL_PATH,
    graphiql: { title: "runstream" },
    landingPage: false,
    // /healthz and /readyz are served before Yoga (see http-server.ts).
    healthCheckEndpoint: "/graphql/health",
    logging: yogaLogger(logger),
    maskedErrors: { maskError: createMaskError(logger), errorMessage: UNEXPECTED_ERROR_MESSAGE },
    plugins: [recordOperationName, ...streamingPlugins(app)],
    context: (): GraphQLContext => {
      const requestId = currentRequestScope()?.requestId ?? "none";
      return {
        app,
        // Authentication will derive the workspace from the caller here.
        workspaceId: DEFAULT_WORKSPACE,
        caller: { admin: true },
        requestId,
        logger: logger.child({ requestId }),
      };
    },
  });
}
