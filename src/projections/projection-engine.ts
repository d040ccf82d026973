/** Keeps the read models in step with the event store. */
export interface ProjectionEngine {
  /** Starts following the event store in the background. */
  start(): void;
  stop(): Promise<void>;
  /**
   * Resolves once every projection has applied the event at `position` (read-your-writes for the API);
   * rejects with ReadModelTimeoutError after `timeoutMs`.
   */
  waitFor(position: string, timeoutMs: number): Promise<void>;
  /** Per projection: its checkpoint and how many events it has still to apply (for /readyz). */
  status(): Promise<ProjectionStatus[]>;
}

export interface ProjectionStatus {
  name: string;
  version: number;
  position: string | null;
  /** Events stored after the checkpoint; 0 when caught up. */
  lag: number;
}

export class ReadModelTimeoutError extends Error {
  override name = "ReadModelTimeoutError";
}
