import { describe, expect, it } from "vitest";
import { AUTOFIX_RULES, analyzeFile, REFACTOR_RULES } from "../../src/pipelines/code/analyze.js";
import { scriptKind } from "../../src/pipelines/code/languages.js";
import { parseProblem } from "../../src/pipelines/code/lint.js";
import { patchFiles } from "../../src/pipelines/code/patch.js";
import { buildPlans } from "../../src/pipelines/code/plans.js";

/** Every plan of both pipelines, applied to tricky files: each patched script must still parse. */

const corpus = [
  {
    path: "loops.js",
    content: [
      "var total = 0;  ",
      "for (var i = 0; i < 3; i++) { var item = i; total += item; }",
      "for (var key in obj) if (key == null) console.log(key);",
      "if (ready) debugger;",
      "while (go) { var later; later = () => later; }",
      "switch (x) { case 1: var y = 2; break; }",
      "var a = 1, b = a == 2;",
      "label: var z = 3;",
      "const s = `template  ",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the user's code holds a template literal
      "  keeps ${total == 1}  spaces`;",
      "console.log(a), console.log(b);",
      "(() => { debugger; })();",
      "// TODO: tidy",
    ].join("\n"),
  },
  {
    path: "types.ts",
    content: [
      "var count: number = 0;",
      "declare var legacy: string;",
      "export var exported = 1;",
      "namespace N { var inner = 1; export const out = inner == 1; }",
      "function f<T>(value: T | null): boolean { var none = value == null; console.debug(none); return none; }",
      "class C { static { var s = 1; console.log(s); } }",
      "enum E { A = 1 }",
      "var e = E.A != 1 ? 1 : 2",
    ].join("\n"),
  },
  {
    path: "view.tsx",
    content: "var title = <h1>{a == b}</h1>;\nfunction V() { debugger; return title; }  \n",
  },
  { path: "legacy.cjs", content: "var fs = require('fs');\nvar x;\nx = fs == null;\nmodule.exports = x;" },
];

describe("patched files still parse", () => {
  for (const [pipeline, rules] of [
    ["autofix", AUTOFIX_RULES],
    ["refactor", REFACTOR_RULES],
  ] as const) {
    it(`${pipeline}: under every plan`, () => {
      const issues = corpus.flatMap((file) => analyzeFile(file, rules));
      expect(issues.filter((found) => found.rule === "syntax-error")).toEqual([]);
      const plans = buildPlans(issues, 1);
      expect(plans.length).toBeGreaterThan(1);
      for (const plan of plans) {
        const result = patchFiles(corpus, issues, plan.choices);
        // The safety net in patchFiles (refusing a patch that does not parse) was never needed.
        expect(result.unfixed.filter((found) => found.rule === "syntax-error")).toEqual([]);
        expect(result.applied).toBeGreaterThan(0);
        for (const file of result.files) {
          const kind = scriptKind(file.path);
          expect(kind).not.toBeNull();
          if (kind) expect(parseProblem(file.content, kind), `${file.path} under ${plan.label}`).toBeNull();
        }
      }
    });
  }

  it("a patch that would not parse is refused and the file kept as it was", () => {
    const file = { path: "x.js", content: "var a = 1;\n" };
    const [found] = analyzeFile(file, ["var-declaration"]);
    expect(found).toBeDefined();
    if (!found) return;
    const broken = { ...found, end: found.end + 4 }; // would swallow `a =`: `const 1;`
    const result = patchFiles([file], [broken], buildPlans([found], 1)[0]?.choices ?? ({} as never));
    expect(result.files[0]?.content).toBe(file.content);
    expect(result.unfixed.map((entry) => entry.rule)).toEqual(["syntax-error"]);
  });
});
