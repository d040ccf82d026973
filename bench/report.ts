/**
 * Writes bench/REPORT.md (and its SVG charts) from a results file. Runs at the end of `npm run bench`;
 * alone: `npx tsx bench/report.ts [bench/results/latest.json]`. The "why" of each missed target comes
 * from bench/FINDINGS.md, written by hand from measurements and profiles; this file only lays it out.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchFigure, BenchResults } from "./harness.js";
import { lineChartSvg, type Series } from "./report-chart.js";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const COLORS = { p50: "#1f77b4", p99: "#d62728", baselineP50: "#7fb2d9", baselineP99: "#eb9394" };

const formatNumber = (value: number): string =>
  Number.isNaN(value)
    ? "-"
    : Math.abs(value) >= 100
      ? Math.round(value).toLocaleString("en-US")
      : value.toFixed(Math.abs(value) >= 10 ? 1 : 2);

const targetText = (f: BenchFigure) =>
  f.target ? `${f.target.op} ${formatNumber(f.target.value)}` : "none set";
const status = (f: BenchFigure) => (f.met === undefined ? "" : f.met ? "met" : "**MISSED**");

/** How far a missed figure is from its target, in the figure's unit and as a share of the target. */
export function shortfall(f: BenchFigure): string {
  if (!f.target) return "";
  const gap = f.target.op === ">=" ? f.target.value - f.value : f.value - f.target.value;
  const share = (gap / f.target.value) * 100;
  const direction = f.target.op === ">=" ? "below" : "above";
  return `${formatNumber(gap)} ${f.unit} (${share.toFixed(0)}%) ${direction} the target of ${formatNumber(f.target.value)}`;
}

/** Figures shaped for a latency chart: x from `detail[xKey]`, or from the name as a fallback. */
function latencyPoints(figures: BenchFigure[], xKey: string, xPattern: RegExp) {
  const points: { x: number; percentile: string; value: number; baseline: number }[] = [];
  for (const f of figures) {
    if (f.unit !== "ms") continue;
    const fromName = xPattern.exec(f.name)?.[1]?.replace(/,/g, "");
    const x = typeof f.detail?.[xKey] === "number" ? (f.detail[xKey] as number) : Number(fromName);
    const percentile = String(f.detail?.percentile ?? /\b(p50|p99)\b/.exec(f.name)?.[1] ?? "");
    if (!(x > 0) || (percentile !== "p50" && percentile !== "p99")) continue;
    points.push({ x, percentile, value: f.value, baseline: f.baseline.value });
  }
  return points;
}

function seriesOf(points: ReturnType<typeof latencyPoints>, baselineLabel: string | null): Series[] {
  const series: Series[] = [];
  for (const percentile of ["p50", "p99"] as const) {
    const mine = points.filter((p) => p.percentile === percentile);
    if (mine.length === 0) continue;
    series.push({
      label: percentile,
      color: COLORS[percentile],
      points: mine.map((p) => ({ x: p.x, y: p.value })),
    });
    if (baselineLabel) {
      series.push({
        label: `${baselineLabel} ${percentile}`,
        color: percentile === "p50" ? COLORS.baselineP50 : COLORS.baselineP99,
        points: mine.map((p) => ({ x: p.x, y: p.baseline })),
      });
    }
  }
  return series;
}

interface Chart {
  file: string;
  caption: string;
}

async function writeCharts(results: BenchResults, dir: string): Promise<Chart[]> {
  const charts: Chart[] = [];
  const fanout = results.figures.filter((f) => f.bench === "fanout");
  const fanoutPoints = latencyPoints(fanout, "subscribers", /([\d,]+)\s+subscribers/);
  if (fanoutPoints.length > 0) {
    const target = fanout.find((f) => f.target?.op === "<=" && f.unit === "ms")?.target;
    await writeFile(
      path.join(dir, "fanout-latency.svg"),
      lineChartSvg(seriesOf(fanoutPoints, null), {
        title: "SSE fan-out: append-to-client latency",
        xLabel: "concurrent subscribers on one run (log scale)",
        yLabel: "latency (ms)",
        logX: true,
        ...(target ? { threshold: { y: target.value, label: `target ${target.value} ms` } } : {}),
      }),
    );
    charts.push({
      file: "fanout-latency.svg",
      caption: "Fan-out delivery latency (p50, p99) versus subscribers",
    });
  }
  const commands = results.figures.filter((f) => f.bench === "command-latency");
  const commandPoints = latencyPoints(commands, "rate", /at ([\d.]+)\/s/);
  if (commandPoints.length > 0) {
    await writeFile(
      path.join(dir, "command-latency.svg"),
      lineChartSvg(seriesOf(commandPoints, "trivial query"), {
        title: "retryStep through HTTP, read-your-writes",
        xLabel: "mutations per second (steady, open loop)",
        yLabel: "latency (ms)",
      }),
    );
    charts.push({
      file: "command-latency.svg",
      caption: "retryStep latency (p50, p99) versus request rate, beside the trivial-query baseline",
    });
  }
  // Charts a bench wrote itself (the soak's time series), named in its figures' `detail.chart`.
  for (const file of new Set(
    results.figures.map((f) => f.detail?.chart).filter((c) => typeof c === "string"),
  )) {
    const bench = results.figures.find((f) => f.detail?.chart === file)?.bench ?? "";
    charts.push({
      file: String(file),
      caption: `${bench}: ${String(file)
        .replace(/\.svg$/, "")
        .replace(/-/g, " ")} over time`,
    });
  }
  return charts;
}

/** `## heading` sections of FINDINGS.md, to point each missed target at its explanation. */
function findingSections(findings: string): string[] {
  return [...findings.matchAll(/^## (.+)$/gm)].map((match) => (match[1] as string).trim());
}

export function renderReport(results: BenchResults, charts: Chart[], findings: string | null): string {
  const { machine } = results;
  const lines: string[] = [
    "# Benchmark report",
    "",
    "<!-- Generated by bench/report.ts from bench/results/latest.json: edit bench/FINDINGS.md, not this file. -->",
    "",
    `Run at ${results.at} with \`npm run bench\` (scale ${results.scale}${
      results.params && Object.keys(results.params).length > 0
        ? `, params ${Object.entries(results.params)
            .map(([key, value]) => `${key}=${value}`)
            .join(" ")}`
        : ""
    }).`,
    "",
    "## Machine",
    "",
    `- ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GB memory`,
    `- Node ${machine.node}, ${machine.platform}`,
    `- Database: ${machine.server}`,
  ];
  if (machine.loadAverage) {
    const fmt = (load: number[]) => load.map((value) => value.toFixed(2)).join(" / ");
    lines.push(
      `- Load average (1 / 5 / 15 min) before the run ${fmt(machine.loadAverage.before)}, after ${fmt(machine.loadAverage.after)}.`,
      "  The machine is shared with other engineers' builds and tests, so absolute figures are noisy;",
      "  each figure's ratio to a baseline measured in the same run, on the same server, is the steadier reading.",
    );
  }
  if (results.durationsSeconds) {
    const parts = Object.entries(results.durationsSeconds).map(([name, seconds]) => `${name} ${seconds} s`);
    lines.push(`- Wall time: ${parts.join(", ")}`);
  }
  lines.push(
    "",
    "## Figures",
    "",
    "Ratio = value / baseline. For throughput higher is better; for latency (ms) lower is better.",
    "",
  );
  const benches = [...new Set(results.figures.map((f) => f.bench))];
  for (const bench of benches) {
    lines.push(
      `### ${bench}`,
      "",
      "| figure | value | baseline (same run) | ratio | target | |",
      "|---|---:|---|---:|---|---|",
    );
    for (const f of results.figures.filter((figure) => figure.bench === bench)) {
      lines.push(
        `| ${f.name} | ${formatNumber(f.value)} ${f.unit} | ${f.baseline.name}: ${formatNumber(f.baseline.value)} | ${
          Number.isNaN(f.ratio) ? "-" : `${f.ratio.toFixed(2)}x`
        } | ${targetText(f)} | ${status(f)} |`,
      );
    }
    lines.push("");
  }
  if (charts.length > 0) {
    lines.push("## Charts", "");
    for (const chart of charts)
      lines.push(`![${chart.caption}](${chart.file})`, "", `*${chart.caption}.*`, "");
  }
  if (!results.figures.some((f) => f.bench === "fanout")) {
    lines.push(
      "*No fan-out figures in this run: the latency-versus-subscribers chart appears once they are.*",
      "",
    );
  }
  const missed = results.figures.filter((f) => f.met === false);
  lines.push("## Targets missed", "");
  if (missed.length === 0) lines.push("Every target set by the issues was met in this run.", "");
  const headings = findings ? findingSections(findings) : [];
  for (const f of missed) {
    const exact = headings.find((heading) => heading.includes(`${f.bench}: ${f.name}`));
    const loose =
      exact ?? headings.find((heading) => heading.startsWith(`${f.bench}:`) || heading === f.bench);
    lines.push(
      `- **${f.bench}: ${f.name}**: ${formatNumber(f.value)} ${f.unit}, ${shortfall(f)}. ${
        loose ? `Why: see "${loose}" under Findings.` : "No explanation in bench/FINDINGS.md yet."
      }`,
    );
  }
  if (missed.length > 0) lines.push("");
  if (findings)
    lines.push(
      "## Findings",
      "",
      findings
        .replace(/^# .*\n+/, "")
        .replace(/^## /gm, "### ")
        .trim(),
      "",
    );
  return `${lines.join("\n")}\n`;
}

export async function writeReport(results: BenchResults, dir = BENCH_DIR): Promise<string> {
  const charts = await writeCharts(results, dir);
  const findings = await readFile(path.join(dir, "FINDINGS.md"), "utf8").catch(() => null);
  const file = path.join(dir, "REPORT.md");
  await writeFile(file, renderReport(results, charts, findings));
  return file;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const source = path.resolve(process.argv[2] ?? path.join(BENCH_DIR, "results", "latest.json"));
  const results = JSON.parse(await readFile(source, "utf8")) as BenchResults;
  console.log(`report written to ${path.relative(process.cwd(), await writeReport(results))}`);
}
