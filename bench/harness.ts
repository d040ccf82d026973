import type pg from "pg";

/** One measured number, always next to a baseline measured in the same run on the same server. */
export interface BenchFigure {
  bench: string;
  name: string;
  value: number;
  unit: string;
  baseline: { name: string; value: number };
  /** value / baseline.value */
  ratio: number;
  target?: { op: ">=" | "<="; value: number };
  met?: boolean;
}

export interface Bench {
  name: string;
  run(env: BenchEnv): Promise<BenchFigure[]>;
}

/** A fresh, empty database of the bench's own (no migrations applied). */
export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export interface BenchFlags {
  /** Bench names to run; null runs all. */
  only: string[] | null;
  /** Multiplies durations and sizes; 1 keeps the whole suite around a minute. */
  scale: number;
  progress: boolean;
  output: string;
}

export interface BenchProgress {
  update(done: number): void;
  stop(): void;
}

export interface BenchEnv {
  flags: BenchFlags;
  /** Where databases come from: the run's embedded server, or the DATABASE_URL server. */
  server: string;
  createDatabase(options?: { poolSize?: number }): Promise<BenchDatabase>;
  log(message: string): void;
  /** A progress bar on a terminal, nothing otherwise. */
  progress(label: string, total: number): BenchProgress;
}

export function figure(
  fields: Omit<BenchFigure, "ratio" | "met"> & { target?: BenchFigure["target"] },
): BenchFigure {
  const ratio = fields.baseline.value > 0 ? fields.value / fields.baseline.value : Number.NaN;
  const result: BenchFigure = { ...fields, ratio };
  if (fields.target) {
    result.met =
      fields.target.op === ">=" ? fields.value >= fields.target.value : fields.value <= fields.target.value;
  }
  return result;
}

export interface Throughput {
  operations: number;
  seconds: number;
  perSecond: number;
}

/**
 * Runs `concurrency` loops of `operation` for `seconds` after a short warm-up, and counts completed
 * operations (each worth `weight` units, e.g. events per batch). Duration-bound rather than
 * count-bound, so a slow machine still finishes on time.
 */
export async function measureThroughput(options: {
  seconds: number;
  concurrency: number;
  weight?: number;
  warmupSeconds?: number;
  progress?: BenchProgress;
  operation: (worker: number) => Promise<void>;
}): Promise<Throughput> {
  const weight = options.weight ?? 1;
  let counting = false;
  let operations = 0;
  let stopAt = Number.POSITIVE_INFINITY;
  const loop = async (worker: number) => {
    while (performance.now() < stopAt) {
      await options.operation(worker);
      if (counting) operations += weight;
    }
  };
  const warmupMs = (options.warmupSeconds ?? 0.3) * 1_000;
  const started = performance.now();
  stopAt = started + warmupMs + options.seconds * 1_000;
  const workers = Array.from({ length: options.concurrency }, (_, worker) => loop(worker));
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  counting = true;
  const measuredFrom = performance.now();
  const ticker = setInterval(() => options.progress?.update((performance.now() - measuredFrom) / 1_000), 200);
  try {
    await Promise.all(workers);
  } finally {
    clearInterval(ticker);
    options.progress?.stop();
  }
  const seconds = (performance.now() - measuredFrom) / 1_000;
  return { operations, seconds, perSecond: operations / seconds };
}
