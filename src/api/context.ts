import type { AppContext } from "../app/app-context.js";
import type { Caller } from "../auth/caller.js";
import type { Logger } from "../config/logger.js";

/** What every resolver gets. The workspace sits here so that authentication changes one place. */
export interface GraphQLContext {
  app: AppContext;
  /** Runs belong to a workspace; a caller sees and changes only the runs of its own (its token's). */
  workspaceId: string;
  /** Who is calling: the API token of the request (see src/auth). */
  caller: Caller;
  /** Correlation id of the HTTP request: in its log line, its errors and the `x-request-id` header. */
  requestId: string;
  logger: Logger;
}
