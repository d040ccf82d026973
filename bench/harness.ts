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
  /**
   * Structured facts about the figure, for the report and for readers of the JSON: e.g.
   * `{ subscribers: 1000, percentile: "p99" }` (the report charts fan-out latency by these),
   * sample counts, error counts.
   */
  detail?: Record<string, number | string>;
}

/** What `npm run bench` writes to bench/results/latest.json, and what bench/report.ts reads. */
export interface BenchResults {
  at: string;
  machine: {
    cores: number;
    cpu: string;
    memoryGb: number;
    node: string;
    platform: string;
    server: string;
    /** os.loadavg() (1, 5, 15 min) before and after the run: other work on the machine shows here. */
    loadAverage?: { before: number[]; after: number[] };
  };
  scale: number;
  params?: Record<string, string>;
  /** Wall time of each bench, and `total`. */
  durationsSeconds?: Record<string, number>;
  figures: BenchFigure[];
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
  /** `--param bench.key=value` pairs, e.g. `command-latency.rates=20,50`; read with `param()`. */
  params: Record<string, string>;
  /** Regenerate bench/REPORT.md from the results at the end. */
  report: boolean;
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

/** A bench-specific setting from `--param <bench>.<key>=<value>`, or its default. */
export function param(env: BenchEnv, bench: string, key: string, fallback: string): string {
  return env.flags.params[`${bench}.${key}`] ?? fallback;
}

/** A numeric `--param`, checked so that a typo fails loudly rather than benchmarking NaN. */
export function numberParam(env: BenchEnv, bench: string, key: string, fallback: number): number {
  const raw = param(env, bench, key, String(fallback));
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--param ${bench}.${key} must be a positive number, got ${raw}`);
  return value;
}

/** Nearest-rank percentile (p in 0..100) of values sorted ascending; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarizeLatencies(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
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
