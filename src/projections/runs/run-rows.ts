import type { Run as RunRow, Step } from "../../generated/prisma/client.js";
import { currentPhase, type Run, type StepState } from "../../runs/state.js";
import type { Json } from "../../shared/json.js";

/** A run folded by the domain's `evolve`, with where its stream had got to. */
export interface ProjectedRun {
  run: Run;
  /** Stream revision of the last event applied. */
  revision: number;
  /** Global position of the last event applied. */
  position: string;
}

/** Row of `runs`, keyed by column name, as `jsonb_to_recordset` reads it. */
export function runRow({ run, revision, position }: ProjectedRun): Record<string, Json> {
  return {
    id: run.id,
    workspace_id: run.workspaceId,
    pipeline: run.pipeline,
    status: run.status,
    phase: currentPhase(run),
    revision,
    input: run.input,
    error: run.error,
    idempotency_key: run.idempotencyKey,
    worker_id: run.workerId,
    lease_expires_at: run.leaseExpiresAt,
    takeovers: run.takeovers,
    created_at: run.createdAt,
    updated_at: run.updatedAt,
    completed_at: run.completedAt,
    position,
  };
}

export function stepRow(runId: string, step: StepState): Record<string, Json> {
  return {
    run_id: runId,
    id: step.id,
    index: step.index,
    name: step.name,
    status: step.status,
    attempt: step.attempt,
    automatic_retries: step.automaticRetries,
    progress: step.progress,
    message: step.message,
    output: step.output,
    output_truncated: step.outputTruncated,
    alternatives: step.alternatives,
    selected_index: step.selectedIndex,
    error: step.error,
    started_at: step.startedAt,
    completed_at: step.completedAt,
  };
}

// Timestamps leave the database as the ISO text `evolve` wrote (millisecond precision, UTC), so a run
// read back folds exactly like the one that was written.
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** One JSON document per run: the domain state plus revision and position. */
export const selectProjectedRuns = (runs: string, steps: string): string => `
SELECT jsonb_build_object(
  'run', jsonb_build_object(
    'exists', true, 'id', r.id, 'workspaceId', r.workspace_id, 'pipeline', r.pipeline,
    'input', r.input, 'idempotencyKey', r.idempotency_key, 'status', r.status, 'error', r.error,
    'createdAt', ${iso("r.created_at")}, 'updatedAt', ${iso("r.updated_at")},
    'completedAt', ${iso("r.completed_at")}, 'workerId', r.worker_id,
    'leaseExpiresAt', ${iso("r.lease_expires_at")}, 'takeovers', r.takeovers,
    'steps', COALESCE((
      SELECT jsonb_agg(jsonb_build_object(
        'id', s.id, 'name', s.name, 'index', s.index, 'status', s.status, 'attempt', s.attempt,
        'automaticRetries', s.automatic_retries,
        'progress', s.progress, 'message', s.message, 'output', s.output,
        'outputTruncated', s.output_truncated, 'alternatives', s.alternatives,
        'selectedIndex', s.selected_index, 'error', s.error,
        'startedAt', ${iso("s.started_at")}, 'completedAt', ${iso("s.completed_at")}
      ) ORDER BY s.index) FROM ${steps} s WHERE s.run_id = r.id), '[]'::jsonb)),
  'revision', r.revision, 'position', r.position)::text AS doc
FROM ${runs} r WHERE r.id IN (SELECT jsonb_array_elements_text($1::jsonb))`;

const RUN_COLUMNS: [string, string][] = [
  ["id", "text"],
  ["workspace_id", "text"],
  ["pipeline", "text"],
  ["status", "text"],
  ["phase", "text"],
  ["revision", "int"],
  ["input", "jsonb"],
  ["error", "text"],
  ["idempotency_key", "text"],
  ["worker_id", "text"],
  ["lease_expires_at", "timestamptz"],
  ["takeovers", "int"],
  ["created_at", "timestamptz"],
  ["updated_at", "timestamptz"],
  ["completed_at", "timestamptz"],
  ["position", "text"],
];

const STEP_COLUMNS: [string, string][] = [
  ["run_id", "text"],
  ["id", "text"],
  ["index", "int"],
  ["name", "text"],
  ["status", "text"],
  ["attempt", "int"],
  ["automatic_retries", "int"],
  ["progress", "float8"],
  ["message", "text"],
  ["output", "jsonb"],
  ["output_truncated", "bool"],
  ["alternatives", "jsonb"],
  ["selected_index", "int"],
  ["error", "text"],
  ["started_at", "timestamptz"],
  ["completed_at", "timestamptz"],
];

/** One statement upserting every row of a JSON array parameter: a batch costs one round trip. */
function bulkUpsert(
  table: string,
  columns: [string, string][],
  key: string[],
  enumType: string,
  param: string,
): string {
  const names = columns.map(([name]) => `"${name}"`);
  const record = columns.map(([name, type]) => `"${name}" ${type}`).join(", ");
  const values = columns.map(([name]) => (name === "status" ? `"status"::"${enumType}"` : `"${name}"`));
  const updates = columns
    .filter(([name]) => !key.includes(name))
    .map(([name]) => `"${name}" = EXCLUDED."${name}"`);
  return `INSERT INTO ${table} (${names.join(", ")})
SELECT ${values.join(", ")} FROM jsonb_to_recordset(${param}::jsonb) AS x(${record})
ON CONFLICT (${key.map((k) => `"${k}"`).join(", ")}) DO UPDATE SET ${updates.join(", ")}`;
}

/** Upserts the `runs` rows of the JSON array in parameter `param`. */
export const upsertRuns = (runs: string, param: string): string =>
  bulkUpsert(runs, RUN_COLUMNS, ["id"], "RunStatus", param);
export const upsertSteps = (steps: string, param: string): string =>
  bulkUpsert(steps, STEP_COLUMNS, ["run_id", "id"], "StepStatus", param);

const date = (iso: string | null): Date | null => (iso === null ? null : new Date(iso));

/**
 * The run and its steps as the read model shows them once `projected` is applied, in the read
 * model's own shape (Prisma's): what the API answers with while the read model lags behind a command.
 */
export function runRecord({ run, revision, position }: ProjectedRun): RunRecord {
  return {
    id: run.id,
    workspaceId: run.workspaceId,
    pipeline: run.pipeline,
    status: run.status,
    phase: currentPhase(run),
    revision,
    input: run.input,
    error: run.error,
    idempotencyKey: run.idempotencyKey,
    workerId: run.workerId,
    leaseExpiresAt: date(run.leaseExpiresAt),
    takeovers: run.takeovers,
    createdAt: new Date(run.createdAt),
    updatedAt: new Date(run.updatedAt),
    completedAt: date(run.completedAt),
    position,
    steps: run.steps.map((step) => ({
      runId: run.id,
      id: step.id,
      index: step.index,
      name: step.name,
      status: step.status,
      attempt: step.attempt,
      automaticRetries: step.automaticRetries,
      progress: step.progress,
      message: step.message,
      output: step.output,
      outputTruncated: step.outputTruncated,
      alternatives: step.alternatives,
      selectedIndex: step.selectedIndex,
      error: step.error,
      startedAt: date(step.startedAt),
      completedAt: date(step.completedAt),
    })),
  };
}

/** Typed as Prisma's rows, so a column added to the read model without a value here does not compile. */
export type RunRecord = RunRow & { steps: Step[] };

/** The inverse of runRecord: the domain state a read-model record (with its steps) was written from. */
export function runFromRecord(record: RunRecord): Run {
  const iso = (value: Date | null): string | null => value?.toISOString() ?? null;
  return {
    exists: true,
    id: record.id,
    workspaceId: record.workspaceId,
    pipeline: record.pipeline,
    input: (record.input ?? null) as Json,
    idempotencyKey: record.idempotencyKey,
    status: record.status,
    error: record.error,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
    completedAt: iso(record.completedAt),
    workerId: record.workerId,
    leaseExpiresAt: iso(record.leaseExpiresAt),
    takeovers: record.takeovers,
    steps: [...record.steps]
      .sort((a, b) => a.index - b.index)
      .map((step) => ({
        id: step.id,
        name: step.name,
        index: step.index,
        status: step.status,
        attempt: step.attempt,
        automaticRetries: step.automaticRetries,
        progress: step.progress,
        message: step.message,
        output: (step.output ?? null) as Json,
        outputTruncated: step.outputTruncated,
        alternatives: Array.isArray(step.alternatives) ? (step.alternatives as Json[]) : null,
        selectedIndex: step.selectedIndex,
        error: step.error,
        startedAt: iso(step.startedAt),
        completedAt: iso(step.completedAt),
      })),
  };
}
