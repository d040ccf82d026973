/**
 * `npm run bench [-- --only appends --scale 2]`: runs every bench/*.bench.ts module against one
 * embedded PostgreSQL started for the run (or the DATABASE_URL server), prints a table and writes
 * the figures with machine info to bench/results/latest.json.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import cliProgress from "cli-progress";
import { Command } from "commander";
import pg from "pg";
import { createLogger } from "../src/config/logger.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../src/db/embedded-postgres.js";
import type {
  Bench,
  BenchDatabase,
  BenchEnv,
  BenchFigure,
  BenchFlags,
  BenchProgress,
  BenchResults,
} from "./harness.js";
import { writeReport } from "./report.js";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

function parseFlags(): BenchFlags {
  const options = new Command("bench")
    .option("--only <names>", "comma-separated bench names to run")
    .option("--scale <n>", "multiplies durations and sizes", Number.parseFloat, 1)
    .option("--no-progress", "no progress bars")
    .option("--output <file>", "where to write the results", path.join(BENCH_DIR, "results", "latest.json"))
    .option(
      "--param <bench.key=value>",
      "a bench's own setting, e.g. command-latency.rates=20,50 (repeatable)",
      (value: string, all: string[]) => [...all, value],
      [] as string[],
    )
    .option("--no-report", "do not regenerate bench/REPORT.md")
    .parse()
    .opts<{
      only?: string;
      scale: number;
      progress: boolean;
      output: string;
      param: string[];
      report: boolean;
    }>();
  if (!(options.scale > 0)) throw new Error(`--scale must be a positive number, got ${options.scale}`);
  const params: Record<string, string> = {};
  for (const pair of options.param) {
    const match = /^([\w-]+\.[\w-]+)=(.*)$/.exec(pair);
    if (!match) throw new Error(`--param takes <bench>.<key>=<value>, got ${pair}`);
    params[match[1] as string] = match[2] as string;
  }
  return {
    params,
    report: options.report,
    only: options.only ? options.only.split(",").map((name) => name.trim()) : null,
    scale: options.scale,
    progress: options.progress && process.stderr.isTTY === true,
    output: path.resolve(options.output),
  };
}

async function discoverBenches(only: string[] | null): Promise<Bench[]> {
  const files = (await readdir(BENCH_DIR)).filter((file) => file.endsWith(".bench.ts")).sort();
  const benches: Bench[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(path.join(BENCH_DIR, file)).href)) as { default: Bench };
    if (!only || only.includes(module.default.name)) benches.push(module.default);
  }
  if (only) {
    const unknown = only.filter((name) => !benches.some((bench) => bench.name === name));
    if (unknown.length > 0) throw new Error(`no bench named ${unknown.join(", ")}`);
  }
  return benches;
}

/** Databases for benches: one per call, dropped afterwards, on the admin URL's server. */
function databaseFactory(adminUrl: string) {
  return async (options: { poolSize?: number } = {}): Promise<BenchDatabase> => {
    const name = `bench_${randomBytes(5).toString("hex")}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`).finally(() => admin.end());
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const pool = new pg.Pool({ connectionString: url.toString(), max: options.poolSize ?? 20 });
    pool.on("error", () => undefined);
    return {
      url: url.toString(),
      pool,
      async drop() {
        await pool.end();
        const client = new pg.Client({ connectionString: adminUrl });
        await client.connect();
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => client.end());
      },
    };
  };
}

function progressFactory(enabled: boolean) {
  return (label: string, total: number): BenchProgress => {
    if (!enabled) return { update: () => undefined, stop: () => undefined };
    const bar = new cliProgress.SingleBar(
      { format: `${label.padEnd(40)} {bar} {percentage}%`, clearOnComplete: true, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (done) => bar.update(Math.min(done, total)), stop: () => bar.stop() };
  };
}

const formatNumber = (value: number): string =>
  Number.isNaN(value) ? "-" : value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2);

function printTable(figures: BenchFigure[]): void {
  const rows = figures.map((f) => [
    `${f.bench}: ${f.name}`,
    `${formatNumber(f.value)} ${f.unit}`,
    `${f.baseline.name} ${formatNumber(f.baseline.value)}`,
    `${f.ratio.toFixed(2)}x`,
    f.target ? `${f.target.op} ${formatNumber(f.target.value)} ${f.met ? "met" : "MISSED"}` : "",
  ]);
  const header = ["figure", "value", "baseline", "ratio", "target"];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ");
  console.log(line(header));
  console.log(line(widths.map((width) => "-".repeat(width))));
  for (const row of rows) console.log(line(row));
}

async function serverVersion(adminUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return (
      (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version ?? "?"
    );
  } finally {
    await client.end();
  }
}

const flags = parseFlags();
const benches = await discoverBenches(flags.only);
const logger = createLogger(process.env.LOG_LEVEL ?? "warn", "bench");
let embedded: EmbeddedDatabase | null = null;
let dataDir: string | null = null;
let adminUrl: string;
if (process.env.DATABASE_URL) {
  const url = new URL(process.env.DATABASE_URL);
  url.pathname = "/postgres";
  adminUrl = url.toString();
} else {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "runstream-bench-"));
  embedded = await startEmbeddedPostgres({ dataDir, database: "bench", logger });
  adminUrl = embedded.adminUrl;
}
const stopServer = async () => {
  await embedded?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
};
process.once("SIGINT", () => void stopServer().finally(() => process.exit(130)));

try {
  const server = embedded
    ? `embedded PostgreSQL ${await serverVersion(adminUrl)}`
    : `DATABASE_URL ${new URL(adminUrl).host} (PostgreSQL ${await serverVersion(adminUrl)})`;
  const machine = {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "unknown",
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    server,
  };
  console.log(
    `# ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GB, Node ${machine.node}, ${server}, scale ${flags.scale}`,
  );
  const env: BenchEnv = {
    flags,
    server,
    createDatabase: databaseFactory(adminUrl),
    log: (message) => console.error(`  ${message}`),
    progress: progressFactory(flags.progress),
  };
  const figures: BenchFigure[] = [];
  const durations: Record<string, number> = {};
  // Other processes share this machine: the load average before and after says how quiet it was.
  const loadBefore = os.loadavg();
  const started = performance.now();
  for (const bench of benches) {
    console.error(`# ${bench.name}`);
    const benchStarted = performance.now();
    figures.push(...(await bench.run(env)));
    durations[bench.name] = Math.round((performance.now() - benchStarted) / 100) / 10;
  }
  const results: BenchResults = {
    at: new Date().toISOString(),
    machine: { ...machine, loadAverage: { before: loadBefore, after: os.loadavg() } },
    scale: flags.scale,
    params: flags.params,
    durationsSeconds: { ...durations, total: Math.round((performance.now() - started) / 100) / 10 },
    figures,
  };
  console.log("");
  printTable(figures);
  await mkdir(path.dirname(flags.output), { recursive: true });
  await writeFile(flags.output, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwritten to ${path.relative(process.cwd(), flags.output)}`);
  if (flags.report) {
    const report = await writeReport(results);
    console.log(`report written to ${path.relative(process.cwd(), report)}`);
  }
  const missed = figures.filter((figure) => figure.met === false);
  if (missed.length > 0) console.log(`${missed.length} target(s) missed`);
} finally {
  await stopServer();
}
