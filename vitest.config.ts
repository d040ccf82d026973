import { createRequire } from "node:module";
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from "vitest/config";

/**
 * One project per tier, chosen by file suffix: `*.unit.test.ts` (pure), `*.int.test.ts` (real
 * PostgreSQL), `*.e2e.test.ts` (real HTTP/SSE, child processes). The global setup starts one embedded
 * PostgreSQL for the whole run and hands its URL to every project through `provide`/`inject`.
 * `*.alone.e2e.test.ts` measure the process's own latency under a load they make themselves, or make
 * a load that would starve others (the SLOW_CONSUMER test pushes 150 MB through the kernel's socket
 * buffers; a worker test with a 1 s lease lost it beside it): `npm test` runs them in a second vitest
 * run of their own (`e2e-alone`), one file after another.
 */

// graphql ships both index.js and index.mjs; Node (and so every externalized package: Yoga, Pothos)
// loads index.js, Vite would pick index.mjs for test files, and graphql refuses two copies of itself.
const resolve = {
  alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve("graphql") }],
};
const env = { NODE_ENV: "test", LOG_LEVEL: process.env.LOG_LEVEL ?? "silent" };

/** The projects do not extend the root config: they would inherit its global setup and run it each. */
const tier = (
  name: string,
  test: TestProjectInlineConfiguration["test"],
): TestProjectInlineConfiguration => ({
  resolve,
  test: { name, include: [`test/**/*.${name}.test.ts`], env, ...test },
});

export default defineConfig({
  resolve,
  test: {
    // Runs once, in the root project; every project sees what it provides.
    globalSetup: ["test/support/global-setup.ts"],
    // The machine has few cores and the int/e2e tiers start servers: two files at a time, as before.
    maxWorkers: Number(process.env.TEST_CONCURRENCY ?? 2),
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      exclude: ["src/generated/**"],
      reporter: ["text-summary", "html", "json-summary"],
      reportsDirectory: "coverage",
      // A little under what the suite reached (2026-11-25: statements 83.8%, branches 75.6%,
      // functions 85.0%, lines 86.8%), so a change that drops tests shows up.
      thresholds: { statements: 81, branches: 73, functions: 82, lines: 84 },
    },
    projects: [
      // Pure code: threads start faster than processes and nothing here keeps process-wide state.
      tier("unit", { pool: "threads", testTimeout: 10_000 }),
      // Pools, listeners and embedded servers are per process; forks keep one file's leftovers from the next.
      tier("int", { pool: "forks", testTimeout: 60_000, hookTimeout: 60_000 }),
      // These spawn servers and workers as child processes and install signal handlers.
      tier("e2e", {
        pool: "forks",
        testTimeout: 120_000,
        hookTimeout: 120_000,
        exclude: [...configDefaults.exclude, "test/**/*.alone.e2e.test.ts"],
      }),
      tier("alone.e2e", {
        name: "e2e-alone",
        pool: "forks",
        fileParallelism: false,
        testTimeout: 120_000,
        hookTimeout: 120_000,
      }),
    ],
  },
});
