/**
 * The code pipelines' analysis (ESLint's parser and scope analysis, see src/pipelines/code/lint.ts)
 * on 1k-100k-line files, each next to a plain parse of the same file in the same run: linear analysis
 * keeps that ratio flat as files grow (the old hand-written analysis was quadratic on `var`-heavy
 * files: 1k lines 0.38 s, 8k lines 5.2 s).
 */
import { AUTOFIX_RULES, analyzeFile, REFACTOR_RULES } from "../src/pipelines/code/analyze.js";
import { scriptKind } from "../src/pipelines/code/languages.js";
import { parseProblem } from "../src/pipelines/code/lint.js";
import { type Bench, type BenchEnv, type BenchFigure, figure, param } from "./harness.js";

const SHAPES: Record<string, (line: number) => string> = {
  // The input of issue #14: one name declared over and over, trailing spaces on every line.
  "same-var": () => "var a = 1;  ",
  // Distinct variables, some reassigned, comparisons and console calls: every rule has work.
  mixed: (line) =>
    [
      `var v${line} = ${line};`,
      `v${line - 1} += 1;`,
      `if (v${line - 2} == null) console.log(v${line - 2});`,
      `function f${line}() { var inner = v${line - 3} != 2; return inner; }`,
    ][line % 4] ?? "",
};

const timed = (work: () => unknown): number => {
  const started = performance.now();
  work();
  return performance.now() - started;
};

const codeAnalysis: Bench = {
  name: "code-analysis",
  async run(env: BenchEnv): Promise<BenchFigure[]> {
    const sizes = param(env, "code-analysis", "lines", "1000,10000,100000")
      .split(",")
      .map((size) => Math.max(1, Math.round(Number(size) * Math.min(1, env.flags.scale))));
    const path = "bench.js";
    const kind = scriptKind(path);
    if (!kind) throw new Error("bench.js must be a script");
    const rules = [...AUTOFIX_RULES, ...REFACTOR_RULES];
    const figures: BenchFigure[] = [];
    // Warm-up, so the first size does not pay for loading and compiling the parser.
    analyzeFile({ path, content: "var a = 1;\n".repeat(2_000) }, rules);
    for (const [shape, line] of Object.entries(SHAPES)) {
      for (const lines of sizes) {
        const content = `${Array.from({ length: lines }, (_, index) => line(index)).join("\n")}\n`;
        const parseMs = timed(() => parseProblem(content, kind));
        let issues = 0;
        const analyzeMs = timed(() => {
          issues = analyzeFile({ path, content }, rules).length;
        });
        env.log(
          `${shape} ${lines} lines: analysis ${analyzeMs.toFixed(0)} ms, parse ${parseMs.toFixed(0)} ms`,
        );
        figures.push(
          figure({
            bench: "code-analysis",
            name: `analysis of ${lines} lines (${shape})`,
            value: analyzeMs,
            unit: "ms",
            baseline: { name: "plain parse of the same file", value: parseMs },
            // Linear: a small constant factor of a parse at every size (the parse is part of it).
            target: { op: "<=", value: 4 * parseMs },
            detail: { lines, shape, issues, bytes: Buffer.byteLength(content) },
          }),
        );
      }
    }
    return figures;
  },
};

export default codeAnalysis;
