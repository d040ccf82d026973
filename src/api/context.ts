import type { AppContext } from "../app/app-context.js";
import type { Logger } from "../config/logger.js";

/** What every resolver gets. The workspace sits here so that authentication changes one place. */
export interface GraphQLContext {
  app: AppContext;
  /** Runs belong to a workspace; a caller sees and changes only the runs of its own. */
  workspaceId: string;
  /** Who is calling. Without authentication every caller is the local operator, hence admin. */
  caller: { admin: boolean };
  /** Correlation id of the HTTP request: in its log line, its errors and the `x-request-id` header. */
  requestId: string;
  logger: Logger;
}

/** Every request uses this workspace until authentication (which will derive it from the caller) lands. */
export const DEFAULT_WORKSPACE = "default";
