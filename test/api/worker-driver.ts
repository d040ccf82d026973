import type { AppContext } from "../../src/app/app-context.js";
import type { WorkerCommand } from "../../src/runs/commands.js";
import { executeRunCommand } from "../../src/runs/execute.js";
import type { Json } from "../../src/shared/json.js";

type Distribute<C> = C extends WorkerCommand ? Omit<C, "now" | "runId" | "workerId"> : never;
export type WorkerStep = Distribute<WorkerCommand>;

export const WORKER_ID = "test-worker";

/**
 * Plays the worker's part through the same command handler the worker uses, then waits for the
 * read model, so a test can bring a run into any state (failed step, awaiting a selection, ...).
 */
export async function drive(ctx: AppContext, runId: string, steps: WorkerStep[]): Promise<void> {
  for (const step of steps) {
    const command = { ...step, runId, workerId: WORKER_ID, now: new Date().toISOString() } as WorkerCommand;
    const result = await executeRunCommand(ctx.store, command);
    if (result.position) await ctx.projections.waitFor(result.position, 5_000);
  }
}

export const claim = (leaseMs = 60_000): WorkerStep => ({
  type: "ClaimRun",
  leaseMs,
  currentLeaseExpired: false,
  maxTakeovers: 3,
});
export const startStep = (stepId: string): WorkerStep => ({ type: "StartStep", stepId });
export const completeStep = (stepId: string, output: Json = { done: stepId }): WorkerStep => ({
  type: "CompleteStep",
  stepId,
  output,
  truncated: false,
  message: null,
});
export const failStep = (stepId: string, error = "boom"): WorkerStep => ({
  type: "FailStep",
  stepId,
  error,
  willRetry: false,
});
export const produceAlternatives = (stepId: string, alternatives: Json[]): WorkerStep => ({
  type: "ProduceAlternatives",
  stepId,
  alternatives,
});
export const completeRun = (): WorkerStep => ({ type: "CompleteRun" });

/** Claim, then execute `plan` and fail `apply`: the run ends FAILED with a retryable step. */
export const failOnApply = (): WorkerStep[] => [
  claim(),
  startStep("plan"),
  completeStep("plan"),
  startStep("apply"),
  failStep("apply"),
];
