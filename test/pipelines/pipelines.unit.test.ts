import assert from "node:assert/strict";
import { test } from "vitest";
import { defaultPipelines } from "../../src/pipelines/default-pipelines.js";
import { fitList, limitJson } from "../../src/pipelines/output-limit.js";
import type { PipelineDefinition, StepContext, StepResult } from "../../src/pipelines/pipeline.js";
import { type Json, jsonByteLength } from "../../src/shared/json.js";

const pipelines = defaultPipelines();
const pipeline = (name: string): PipelineDefinition => {
  const found = pipelines.get(name);
  assert.ok(found, `pipeline ${name} is registered`);
  return found;
};

interface Executed {
  results: Record<string, StepResult>;
  outputs: Record<string, Json>;
  progress: (number | null)[];
}

/** Runs a pipeline's steps in order like a worker would, choosing alternative `pick` when offered. */
async function execute(
  definition: PipelineDefinition,
  input: Json,
  options: { pick?: number; maxOutputBytes?: number; signal?: AbortSignal } = {},
): Promise<Executed> {
  const executed: Executed = { results: {}, outputs: {}, progress: [] };
  for (const step of definition.steps) {
    const context: StepContext = {
      runId: "r1",
      input,
      outputs: { ...executed.outputs },
      attempt: 1,
      signal: options.signal ?? new AbortController().signal,
      reportProgress: async (progress) => {
        executed.progress.push(progress);
      },
      limits: { maxOutputBytes: options.maxOutputBytes ?? 1_000_000 },
    };
    const result = await step.run(context);
    executed.results[step.id] = result;
    executed.outputs[step.id] =
      "alternatives" in result ? (result.alternatives[options.pick ?? 0] ?? null) : result.output;
  }
  return executed;
}

const files = [
  { path: "src/a.js", content: "var total = 0;\nvar count = 1;\ntotal += count;   \n// TODO: remove\n" },
  { path: "src/b.ts", content: "export const b = 1;" },
  { path: "notes.md", content: "hello \n" },
];

test("both pipelines are registered with their steps", () => {
  assert.deepEqual(
    pipelines.list().map((definition) => definition.name),
    ["autofix", "refactor"],
  );
  assert.deepEqual(
    pipeline("autofix").steps.map((step) => step.id),
    ["scan", "analyze", "generate", "apply"],
  );
  assert.deepEqual(
    pipeline("refactor").steps.map((step) => step.id),
    ["scan", "analyze", "plan", "apply", "verify"],
  );
});

test("validateInput explains what is wrong", () => {
  const { validateInput } = pipeline("autofix");
  assert.equal(validateInput({ files }), null);
  assert.equal(validateInput({ files, delayMs: 5 }), null);
  assert.match(validateInput(null) ?? "", /input must be an object/);
  assert.match(validateInput({ files: [] }) ?? "", /at least one file/);
  assert.match(
    validateInput({ files: [{ path: "a", content: 1 }] }) ?? "",
    /files\[0\]\.content must be a string/,
  );
  assert.match(validateInput({ files: [{ path: "", content: "" }] }) ?? "", /files\[0\]\.path/);
  assert.match(
    validateInput({
      files: [
        { path: "a", content: "" },
        { path: "a", content: "" },
      ],
    }) ?? "",
    /appears more than once/,
  );
  assert.match(validateInput({ files, delayMs: -1 }) ?? "", /delayMs must be an integer/);
  assert.match(validateInput({ files, extra: 1 }) ?? "", /unknown fields: extra/);
});

test("autofix: offers var alternatives, then patches the files with the chosen one", async () => {
  const withConst = await execute(pipeline("autofix"), { files }, { pick: 0 });
  const generated = withConst.results.generate;
  assert.ok(generated && "alternatives" in generated);
  assert.equal(generated.alternatives.length, 2);
  const applied = withConst.outputs.apply as { files: { path: string; content: string; changed: boolean }[] };
  assert.deepEqual(
    applied.files.map((file) => [file.path, file.content, file.changed]),
    [
      ["src/a.js", "let total = 0;\nconst count = 1;\ntotal += count;\n// TODO: remove\n", true],
      ["src/b.ts", "export const b = 1;\n", true],
      ["notes.md", "hello\n", true],
    ],
  );
  assert.deepEqual((withConst.outputs.apply as { unfixed: { rule: string }[] }).unfixed, [
    { path: "src/a.js", line: 4, rule: "todo-marker", message: "TODO marker: remove" },
  ]);
  const withLet = await execute(pipeline("autofix"), { files }, { pick: 1 });
  const letFiles = (withLet.outputs.apply as { files: { content: string }[] }).files;
  assert.equal(letFiles[0]?.content, "let total = 0;\nlet count = 1;\ntotal += count;\n// TODO: remove\n");
});

test("refactor: plans, applies and verifies", async () => {
  const input = {
    files: [{ path: "x.ts", content: "if (a == b) f();\nconsole.log(a);\ndebugger;\nif (c != null) g();\n" }],
  };
  const executed = await execute(pipeline("refactor"), input, { pick: 2 });
  const plan = executed.results.plan;
  assert.ok(plan && "alternatives" in plan);
  assert.equal(plan.alternatives.length, 4);
  const applied = executed.outputs.apply as { files: { content: string }[] };
  // Alternatives: (strict, remove), (strict, keep), (keep-loose, remove), (keep-loose, keep).
  assert.equal(applied.files[0]?.content, "if (a === b) f();\nif (c != null) g();\n");
  assert.deepEqual(executed.outputs.verify, {
    checkedFiles: 1,
    uncheckedFiles: 0,
    remaining: { "loose-equality": 1 },
    stillFixable: 0,
    clean: true,
  });
});

test("a clean input needs no choice and completes every step with an output", async () => {
  const executed = await execute(pipeline("autofix"), {
    files: [{ path: "ok.ts", content: "let a = 1;\n" }],
  });
  const generated = executed.results.generate;
  assert.ok(generated && "output" in generated);
  assert.equal((executed.outputs.apply as { applied: number }).applied, 0);
});

test("outputs over the configured limit are cut and flagged, never silently", async () => {
  const many = Array.from({ length: 40 }, (_, index) => ({
    path: `f${index}.js`,
    // Distinct names: a redeclared var cannot become let/const (the old heuristic made it a const
    // twice, a syntax error), so it would stay unfixed instead of patched.
    content: Array.from({ length: 20 }, (_, line) => `var v${index}_${line} = 1;   \n`).join(""),
  }));
  const maxOutputBytes = 4_000;
  const executed = await execute(pipeline("autofix"), { files: many }, { maxOutputBytes });
  for (const [stepId, result] of Object.entries(executed.results)) {
    const outputs = "alternatives" in result ? result.alternatives : [result.output];
    for (const output of outputs) assert.ok(jsonByteLength(output) <= maxOutputBytes, `${stepId} fits`);
  }
  const analyzed = executed.results.analyze;
  assert.ok(analyzed && "output" in analyzed);
  assert.equal(analyzed.truncated, true);
  assert.match(analyzed.message ?? "", /of 1600 issues left out/);
  assert.ok((analyzed.output as { omittedIssues: number }).omittedIssues > 0);
  const applied = executed.results.apply;
  assert.ok(applied && "output" in applied);
  assert.equal(applied.truncated, true);
  assert.match(applied.message ?? "", /patched file contents left out/);
});

test("limitJson keeps a marked preview; fitList keeps what fits", () => {
  const big = { text: "x".repeat(5_000) };
  const limited = limitJson(big, 1_000);
  assert.equal(limited.truncated, true);
  assert.ok(jsonByteLength(limited.output) <= 1_000);
  assert.match(limited.message ?? "", /exceeds the limit of 1000 bytes/);
  assert.deepEqual(limitJson({ a: 1 }, 1_000), { output: { a: 1 }, truncated: false });
  const fitted = fitList(100, 200, (kept) => ({ items: Array.from({ length: kept }, (_, i) => i) }), "items");
  assert.equal(fitted.truncated, true);
  assert.ok(jsonByteLength(fitted.output) <= 200);
});

test("delayMs reports progress in chunks and stops at once when the signal aborts", async () => {
  const input = { files: [{ path: "a.ts", content: "let a = 1;\n" }], delayMs: 40 };
  const executed = await execute(pipeline("autofix"), input);
  assert.equal(executed.progress.length, 4, "one chunk per step");

  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(new Error("cancelled")), 50);
  await assert.rejects(
    execute(pipeline("autofix"), { ...input, delayMs: 10_000 }, { signal: controller.signal }),
    /cancelled|abort/i,
  );
  assert.ok(Date.now() - started < 1_000);
});

test("a step given a bad input fails with the validation message", async () => {
  await assert.rejects(execute(pipeline("refactor"), { files: "nope" }), /input\.files must be an array/);
});
