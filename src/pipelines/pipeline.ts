import type { Json } from "../shared/json.js";

/** What a step handler gets: everything it needs, and nothing it could use to reach around the domain. */
export interface StepContext {
  runId: string;
  input: Json;
  /** Outputs of the steps before this one, by step id (the selected alternative for choice steps). */
  outputs: Record<string, Json>;
  /** 1 for the first execution, +1 per retry, resume or rerun. */
  attempt: number;
  /** Aborted when the run is cancelled, the lease is lost or the worker stops. */
  signal: AbortSignal;
  reportProgress(progress: number | null, message?: string): Promise<void>;
  limits: { maxOutputBytes: number };
}

/** One output, or alternatives for a person to choose from (the run then waits for selectAlternative). */
export type StepResult = { output: Json; truncated?: boolean; message?: string } | { alternatives: Json[] };

export interface PipelineStepDefinition {
  id: string;
  name: string;
  run(context: StepContext): Promise<StepResult>;
  /** Automatic retries of a failing handler, with exponential backoff from `backoffMs`. */
  retry?: { attempts: number; backoffMs: number };
}

/**
 * Where a worker thread finds the pipeline again: the module's URL and the name of its exported
 * factory (a thread cannot receive functions, so it rebuilds the definition from code).
 */
export interface PipelineModule {
  url: string;
  factory: string;
}

export interface PipelineDefinition {
  name: string;
  description: string;
  steps: PipelineStepDefinition[];
  /**
   * Set for pipelines whose steps run in worker threads, off the API's event loop (every pipeline
   * the product ships); steps of pipelines without it run in the worker's own thread.
   */
  module?: PipelineModule;
  /** Time budget of each step of this pipeline; defaults to STEP_TIMEOUT_MS. */
  stepTimeoutMs?: number;
  /** A message saying what is wrong with the input, or null when it is acceptable. */
  validateInput(input: Json): string | null;
}
