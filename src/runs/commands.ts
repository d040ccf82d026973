import type { Json } from "../shared/json.js";
import type { PipelineStepRef } from "./events.js";

/**
 * Commands that change a run. Time (`now`) and ids come in with the command: the decider never
 * reads a clock or generates an id.
 */
export type RunCommand = ClientCommand | WorkerCommand;

type Command<Type extends string, Data> = { type: Type; runId: string; now: string } & Data;

export type ClientCommand =
  | StartRun
  | RetryStep
  | ResumeFromStep
  | SelectAlternative
  | CancelRun
  | RerunRun
  | FailStaleRun;
export type WorkerCommand =
  | ClaimRun
  | ReleaseRun
  | StartStep
  | ReportProgress
  | ProduceAlternatives
  | CompleteStep
  | FailStep
  | CompleteRun;

export type StartRun = Command<
  "StartRun",
  {
    workspaceId: string;
    pipeline: string;
    steps: PipelineStepRef[];
    input: Json;
    idempotencyKey: string | null;
  }
>;
export type RetryStep = Command<"RetryStep", { stepId: string }>;
export type ResumeFromStep = Command<"ResumeFromStep", { stepId: string }>;
export type SelectAlternative = Command<"SelectAlternative", { stepId: string; index: number }>;
export type CancelRun = Command<"CancelRun", { reason: string | null }>;
export type RerunRun = Command<"RerunRun", Record<never, never>>;
/**
 * `heartbeatExpiresAt`: the lease's expiry as the heartbeats of the worker holding the run last set
 * it (run_leases, outside the stream), null when it sent none. The run is stale when its lease ran
 * out (see runs/lease.ts) or when no event came for `staleAfterMs`.
 */
export type FailStaleRun = Command<
  "FailStaleRun",
  { reason: string | null; heartbeatExpiresAt: string | null; staleAfterMs: number }
>;

/**
 * `currentLeaseExpired`: whether the lease of the worker holding the run has run out, by the rule of
 * runs/lease.ts applied to what the claiming worker read (the heartbeats live outside the stream).
 */
export type ClaimRun = Command<
  "ClaimRun",
  { workerId: string; leaseMs: number; currentLeaseExpired: boolean; maxTakeovers: number }
>;
export type ReleaseRun = Command<"ReleaseRun", { workerId: string }>;
export type StartStep = Command<"StartStep", { workerId: string; stepId: string }>;
export type ReportProgress = Command<
  "ReportProgress",
  { workerId: string; stepId: string; progress: number | null; message: string | null }
>;
export type ProduceAlternatives = Command<
  "ProduceAlternatives",
  { workerId: string; stepId: string; alternatives: Json[] }
>;
export type CompleteStep = Command<
  "CompleteStep",
  { workerId: string; stepId: string; output: Json; truncated: boolean; message: string | null }
>;
export type FailStep = Command<
  "FailStep",
  { workerId: string; stepId: string; error: string; willRetry: boolean }
>;
export type CompleteRun = Command<"CompleteRun", { workerId: string }>;
