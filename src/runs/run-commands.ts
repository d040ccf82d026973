import type { GraphQLContext } from "../api/context.js";
import { noteReadModelLag } from "../api/read-model-lag.js";
import { ReadModelTimeoutError } from "../projections/projection-engine.js";
import { runRecord } from "../projections/runs/run-rows.js";
import { InvalidInputError } from "../shared/errors.js";
import type { ClientCommand } from "./commands.js";
import { runStreamName } from "./events.js";
import { executeRunCommand } from "./execute.js";
import { checkRunVisible } from "./run-access.js";

/** Distributes the fields every client command carries: the run, and the time it came in. */
export type ClientCommandInput = ClientCommand extends infer C
  ? C extends ClientCommand
    ? Omit<C, "now">
    : never
  : never;

export function checkExpectedRevision(expectedRevision: number | null | undefined): number | null {
  if (expectedRevision == null) return null;
  if (!Number.isInteger(expectedRevision) || expectedRevision < 0) {
    throw new InvalidInputError(`expectedRevision must be a revision (0 or more), got ${expectedRevision}`);
  }
  return expectedRevision;
}

/**
 * The API's path to the command handler: checks the caller may touch the run, stamps the command
 * with the time it came in, executes it, then waits until the read model includes the run's
 * latest event so the mutation answers with the run as it is after the command (read-your-writes).
 * Once events are appended the command has happened: if the read model is late, the answer is the
 * run as the handler folded it, with a note (see read-model-lag.ts), never an error.
 */
export async function executeClientCommand(
  ctx: GraphQLContext,
  command: ClientCommandInput,
  expectedRevision: number | null = null,
): Promise<void> {
  const { app } = ctx;
  const now = new Date().toISOString();
  const result = await executeRunCommand(app.store, { ...command, now } as ClientCommand, {
    expectedRevision,
    metadata: { requestId: ctx.requestId, workspaceId: ctx.workspaceId },
    // Checked on the stream the handler reads anyway: one read per command instead of two.
    checkHistory:
      command.type === "StartRun" ? undefined : (history) => checkRunVisible(ctx, command.runId, history[0]),
  });
  let position = result.position;
  if (position === null && result.revision !== null) {
    // Nothing appended (a repeated idempotent start): the read model must still hold the run.
    const [last] = await app.store.readStream(runStreamName(command.runId), { after: result.revision - 1 });
    position = last?.position ?? null;
  }
  if (position === null) return;
  const timeoutMs = app.config.READ_YOUR_WRITES_TIMEOUT_MS;
  try {
    await app.projections.waitFor(position, timeoutMs);
  } catch (error) {
    if (!(error instanceof ReadModelTimeoutError) || !result.state.exists || result.revision === null)
      throw error;
    ctx.logger.warn(
      { runId: command.runId, position, timeoutMs },
      "read model lags: answering from the events",
    );
    noteReadModelLag(ctx, runRecord({ run: result.state, revision: result.revision, position }), timeoutMs);
  }
}
