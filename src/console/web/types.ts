/** The shapes the console's queries ask for (see queries.ts). */

export type CommandName =
  | "SELECT_ALTERNATIVE"
  | "RETRY_STEP"
  | "RESUME_FROM_STEP"
  | "CANCEL_RUN"
  | "RERUN_RUN"
  | "FAIL_STALE_RUN";

export interface AllowedCommand {
  command: CommandName;
  stepId: string | null;
}

export interface Step {
  id: string;
  name: string;
  index: number;
  status: string;
  attempt: number;
  progress: number | null;
  message: string | null;
  output: unknown;
  outputTruncated: boolean;
  alternatives: unknown[] | null;
  selectedIndex: number | null;
  error: string | null;
  startedAt: string | null;
  completedAt: string | null;
}

export interface RunRow {
  id: string;
  pipeline: string;
  status: string;
  phase: string | null;
  revision: number;
  updatedAt: string;
  stale: boolean;
  allowedCommands: AllowedCommand[];
}

export interface Run extends RunRow {
  input: unknown;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
  steps: Step[];
}

export interface Caller {
  tokenName: string;
  workspaceId: string;
  role: string;
  mayCommand: boolean;
}

export interface RunEventItem {
  revision: number;
  type: string;
  data: Record<string, unknown>;
  occurredAt: string;
}

export const allows = (run: RunRow, command: CommandName, stepId: string | null = null): boolean =>
  run.allowedCommands.some((offered) => offered.command === command && offered.stepId === stepId);

export const RUN_STATUSES = ["PENDING", "RUNNING", "AWAITING_INPUT", "COMPLETED", "FAILED", "CANCELLED"];
