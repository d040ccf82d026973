import type { StoredEvent } from "../event-store/event-store.js";
import type { Json } from "../shared/json.js";

/** Events of one run's stream. Every payload carries `at`, the time the command that caused it came in. */
export type RunEvent =
  | RunStarted
  | RunClaimed
  | RunReleased
  | StepStarted
  | StepProgressed
  | AlternativesProduced
  | AlternativeSelected
  | StepCompleted
  | StepFailed
  | RunCompleted
  | RunFailed
  | RunCancelled
  | StepRetried
  | RunResumed
  | RunRerun;

export type RunEventType = RunEvent["type"];

type Event<Type extends string, Data> = { type: Type; data: Data & { at: string } };

export interface PipelineStepRef {
  id: string;
  name: string;
}

export type RunStarted = Event<
  "RunStarted",
  {
    runId: string;
    workspaceId: string;
    pipeline: string;
    steps: PipelineStepRef[];
    input: Json;
    idempotencyKey: string | null;
  }
>;
export type RunClaimed = Event<"RunClaimed", { workerId: string; leaseExpiresAt: string; takeover: boolean }>;
/** A worker shutting down hands the run back; the next claim is not a takeover. */
export type RunReleased = Event<"RunReleased", { workerId: string }>;
export type StepStarted = Event<"StepStarted", { stepId: string; attempt: number; workerId: string }>;
export type StepProgressed = Event<
  "StepProgressed",
  { stepId: string; attempt: number; progress: number | null; message: string | null }
>;
export type AlternativesProduced = Event<
  "AlternativesProduced",
  { stepId: string; attempt: number; alternatives: Json[] }
>;
export type AlternativeSelected = Event<
  "AlternativeSelected",
  { stepId: string; attempt: number; index: number }
>;
export type StepCompleted = Event<
  "StepCompleted",
  { stepId: string; attempt: number; output: Json; truncated: boolean; message: string | null }
>;
/** `willRetry`: the pipeline allows another automatic attempt, so the step goes back to PENDING. */
export type StepFailed = Event<
  "StepFailed",
  { stepId: string; attempt: number; error: string; willRetry: boolean }
>;
export type RunCompleted = Event<"RunCompleted", { stepCount: number }>;
export type RunFailed = Event<"RunFailed", { error: string; reason: "step-failed" | "stale" }>;
export type RunCancelled = Event<"RunCancelled", { reason: string | null }>;
/**
 * `attempt`: the new attempt number of the retried step; `attempts`: the new attempt of it and of
 * every step after it, all re-executed since their inputs change. Events stored before `attempts`
 * existed reset the retried step alone, and still fold that way, as they were acted upon.
 */
export type StepRetried = Event<
  "StepRetried",
  { stepId: string; attempt: number; attempts?: Record<string, number> }
>;
/** `attempts`: the new attempt number of every step that will be executed again. */
export type RunResumed = Event<"RunResumed", { fromStepId: string; attempts: Record<string, number> }>;
export type RunRerun = Event<"RunRerun", { attempts: Record<string, number> }>;

export const RUN_EVENT_TYPES: readonly RunEventType[] = [
  "RunStarted",
  "RunClaimed",
  "RunReleased",
  "StepStarted",
  "StepProgressed",
  "AlternativesProduced",
  "AlternativeSelected",
  "StepCompleted",
  "StepFailed",
  "RunCompleted",
  "RunFailed",
  "RunCancelled",
  "StepRetried",
  "RunResumed",
  "RunRerun",
];

/* The run stream's format, in one place: its name, its owner, and its events as stored. */

export const RUN_STREAM_PREFIX = "run-";
export const runStreamName = (runId: string): string => `${RUN_STREAM_PREFIX}${runId}`;
/** The run a stored event belongs to, read from its stream's name. */
export const runIdOfStream = (streamName: string): string => streamName.slice(RUN_STREAM_PREFIX.length);

const RUN_EVENT_TYPE_SET: ReadonlySet<string> = new Set(RUN_EVENT_TYPES);

export const isRunEventType = (type: string): type is RunEventType => RUN_EVENT_TYPE_SET.has(type);

/**
 * A stored event of a run stream as the typed event `decide` produced, or null for a type this
 * version does not know (written by a newer one): folds skip it rather than fail. The payload is
 * trusted because only `decide` writes run streams, through the command handler.
 */
export function toRunEvent(stored: Pick<StoredEvent, "type" | "data">): RunEvent | null {
  if (!isRunEventType(stored.type)) return null;
  return { type: stored.type, data: stored.data } as RunEvent;
}

/** The workspace owning a run, read from the run's first stored event; null if it is not a run start. */
export function runWorkspaceOf(first: Pick<StoredEvent, "type" | "data"> | undefined): string | null {
  const workspaceId = first?.type === "RunStarted" ? first.data.workspaceId : undefined;
  return typeof workspaceId === "string" ? workspaceId : null;
}
