import { DomainError } from "../shared/errors.js";
import type { ClientCommand } from "./commands.js";
import { decide } from "./decide.js";
import type { Run } from "./state.js";

/** The client commands a run can be offered, named as the GraphQL enum names them. */
export const OFFERED_COMMANDS = [
  "SELECT_ALTERNATIVE",
  "RETRY_STEP",
  "RESUME_FROM_STEP",
  "CANCEL_RUN",
  "RERUN_RUN",
  "FAIL_STALE_RUN",
] as const;
export type OfferedCommandName = (typeof OFFERED_COMMANDS)[number];

/** A command the run's state accepts now; `stepId` for the step commands, null for the run's own. */
export interface OfferedCommand {
  command: OfferedCommandName;
  stepId: string | null;
}

/** What `failStaleRun` would be given now: the holder's heartbeat expiry, the stale threshold. */
export interface Staleness {
  now: string;
  heartbeatExpiresAt: string | null;
  staleAfterMs: number;
}

/**
 * Every client command the decider would accept against this state, found by asking `decide` itself:
 * the rule of when a button may show has no home but the decider's. SELECT_ALTERNATIVE is offered
 * when some index is accepted (the first one is).
 */
export function allowedCommands(run: Run, staleness: Staleness): OfferedCommand[] {
  const base = { runId: run.id, now: staleness.now };
  const candidates: [OfferedCommand, ClientCommand][] = [
    ...run.steps.flatMap((step): [OfferedCommand, ClientCommand][] => [
      [
        { command: "SELECT_ALTERNATIVE", stepId: step.id },
        { ...base, type: "SelectAlternative", stepId: step.id, index: 0 },
      ],
      [
        { command: "RETRY_STEP", stepId: step.id },
        { ...base, type: "RetryStep", stepId: step.id },
      ],
      [
        { command: "RESUME_FROM_STEP", stepId: step.id },
        { ...base, type: "ResumeFromStep", stepId: step.id },
      ],
    ]),
    [
      { command: "CANCEL_RUN", stepId: null },
      { ...base, type: "CancelRun", reason: null },
    ],
    [
      { command: "RERUN_RUN", stepId: null },
      { ...base, type: "RerunRun" },
    ],
    [
      { command: "FAIL_STALE_RUN", stepId: null },
      { ...base, type: "FailStaleRun", reason: null, ...staleness },
    ],
  ];
  return candidates.filter(([, command]) => accepts(run, command)).map(([offered]) => offered);
}

function accepts(run: Run, command: ClientCommand): boolean {
  try {
    return decide(command, run).length > 0;
  } catch (error) {
    if (error instanceof DomainError) return false;
    throw error;
  }
}
