import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

/**
 * One project per tier, chosen by file suffix: `*.unit.test.ts` (pure), `*.int.test.ts` (real
 * PostgreSQL), `*.e2e.test.ts` (real HTTP/SSE, child processes). The global setup starts one embedded
 * PostgreSQL for the whole run and hands its URL to every project through `provide`/`inject`.
 */
const workers = Number(process.env.TEST_CONCURRENCY ?? 2);

export default defineConfig({
  resolve: {
    // graphql ships both index.js and index.mjs; Node (and so every externalized package: Yoga, Pothos)
    // loads index.js, Vite would pick index.mjs for test files, and graphql refuses two copies of itself.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve("graphql") }],
  },
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    // The machine has few cores and the int/e2e tiers start servers: two files at a time, as before.
    maxWorkers: workers,
    env: { NODE_ENV: "test", LOG_LEVEL: process.env.LOG_LEVEL ?? "silent" },
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      exclude: ["src/generated/**"],
      reporter: ["text-summary", "html", "json-summary"],
      reportsDirectory: "coverage",
    },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.unit.test.ts"],
          // Pure code: threads start faster than processes and nothing here keeps process-wide state.
          pool: "threads",
          testTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: "int",
          include: ["test/**/*.int.test.ts"],
          // Pools, listeners and embedded servers are per process; forks keep one file's leftovers away from the next.
          pool: "forks",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/**/*.e2e.test.ts"],
          // These spawn servers and workers as child processes and install signal handlers.
          pool: "forks",
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
