import type { GraphQLContext } from "../api/context.js";
import { laggingRun } from "../api/read-model-lag.js";
import type { PrismaClient } from "../db/prisma.js";
import type { StoredEvent } from "../event-store/event-store.js";
import { NotFoundError } from "../shared/errors.js";
import { runStreamName, runWorkspaceOf } from "./events.js";

/**
 * Fails with NOT_FOUND unless the run exists in the caller's workspace. Checked on the event store
 * (the run's first event), not on the read model, so a run the projections have not reached yet is
 * still found, and a run of another workspace is never touched.
 */
export async function assertRunVisible(ctx: GraphQLContext, runId: string): Promise<void> {
  const [first] = await ctx.app.store.readStream(runStreamName(runId), { maxCount: 1 });
  checkRunVisible(ctx, runId, first);
}

/** The same check on a run's first event the caller has already read (no read of its own). */
export function checkRunVisible(ctx: GraphQLContext, runId: string, first: StoredEvent | undefined): void {
  if (runWorkspaceOf(first) !== ctx.workspaceId) {
    throw new NotFoundError(`run ${runId} does not exist`);
  }
}

type RunQuery = Omit<Parameters<PrismaClient["run"]["findUnique"]>[0], "where">;

/**
 * The run as the read model has it, with the selection the GraphQL query asked for; or, when a
 * command of this operation found the read model late, as that command's events say.
 */
export async function loadRun<Query extends RunQuery>(ctx: GraphQLContext, query: Query, runId: string) {
  const folded = laggingRun(ctx, runId);
  if (folded) {
    // The whole record satisfies any selection; reading it tells Pothos the query was not forgotten.
    Object.values(query);
    return folded;
  }
  const run = await ctx.app.prisma.run.findFirst({
    ...query,
    where: { id: runId, workspaceId: ctx.workspaceId },
  });
  if (!run) throw new NotFoundError(`run ${runId} does not exist`);
  return run;
}
