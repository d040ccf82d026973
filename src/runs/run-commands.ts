import type { GraphQLContext } from "../api/context.js";
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
  if (position !== null) await app.projections.waitFor(position, app.config.READ_YOUR_WRITES_TIMEOUT_MS);
}
