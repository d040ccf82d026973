import { builder } from "../api/builder.js";
import { DEFAULT_ROLES } from "../auth/authorization.js";
import { roleAllows } from "../auth/roles.js";
import { runFromRecord } from "../projections/runs/run-rows.js";
import { allowedCommands, OFFERED_COMMANDS, type OfferedCommand } from "./allowed-commands.js";
import { holderHeartbeatExpiry } from "./lease.js";
import { HISTORICAL } from "./run-at-revision.js";

const OfferedCommandName = builder.enumType("RunCommandName", { values: OFFERED_COMMANDS });

const OfferedCommandRef = builder.objectRef<OfferedCommand>("AllowedCommand").implement({
  description: "a command the run's current state accepts",
  fields: (t) => ({
    command: t.field({ type: OfferedCommandName, resolve: (offered) => offered.command }),
    stepId: t.exposeID("stepId", { nullable: true, description: "the step it acts on; null for the run" }),
  }),
});

/** What the decider needs besides the rows: the steps in order and the heartbeat lease. */
const STATE_SELECTION = { steps: { orderBy: { index: "asc" as const } }, lease: true };

type Row = Parameters<typeof runFromRecord>[0] & Parameters<typeof holderHeartbeatExpiry>[0];

/** Every command the run's state accepts now, whoever asks. A past state (time travel) accepts none. */
function offered(row: Row, staleAfterMs: number): OfferedCommand[] {
  if (HISTORICAL in row) return [];
  return allowedCommands(runFromRecord(row), {
    now: new Date().toISOString(),
    heartbeatExpiresAt: holderHeartbeatExpiry(row)?.toISOString() ?? null,
    staleAfterMs,
  });
}

builder.prismaObjectFields("Run", (t) => ({
  allowedCommands: t.field({
    type: [OfferedCommandRef],
    description:
      "the commands the caller may send now: those the run's state accepts (asked of the decider), none for a token without the role commands need, none at a past revision",
    select: STATE_SELECTION,
    resolve: (row, _args, ctx) =>
      roleAllows(ctx.caller.role, DEFAULT_ROLES.mutation) ? offered(row, ctx.app.config.STALE_AFTER_MS) : [],
  }),
  stale: t.boolean({
    description:
      "active, but its worker's lease expired or nothing happened for STALE_AFTER_MS: failStaleRun would accept it",
    select: STATE_SELECTION,
    resolve: (row, _args, ctx) =>
      offered(row, ctx.app.config.STALE_AFTER_MS).some((command) => command.command === "FAIL_STALE_RUN"),
  }),
}));
