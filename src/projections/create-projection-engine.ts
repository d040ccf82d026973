import type { Logger } from "../config/logger.js";
import type { PrismaClient } from "../db/prisma.js";
import type { EventStore } from "../event-store/event-store.js";
import type { ProjectionEngine } from "./projection-engine.js";

export interface ProjectionEngineDeps {
  store: EventStore;
  prisma: PrismaClient;
  logger: Logger;
}

// Placeholder until the projections land (issue 3).
export function createProjectionEngine(_deps: ProjectionEngineDeps): ProjectionEngine {
  throw new Error("projections are not built yet");
}
