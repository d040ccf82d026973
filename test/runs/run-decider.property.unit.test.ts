import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide } from "../../src/runs/decide.js";
import type { RunEvent } from "../../src/runs/events.js";
import { evolve, initialState, type RunState } from "../../src/runs/state.js";
import type { Json } from "../../src/shared/json.js";
import { moves, play, propertySettings, RUN_ID, STEPS } from "./properties/run-histories.js";
import { firstViolation } from "./properties/run-invariants.js";

/**
 * The run decider against generated histories (PROPERTY_RUNS of them, 1,000 by default, from
 * PROPERTY_SEED, fixed by default). On failure fast-check prints the seed, the path and the shrunk
 * history: `PROPERTY_SEED=<seed> npx vitest run test/runs/run-decider.property.unit.test.ts` replays it.
 * Shrunk counterexamples found so far are named tests in run-decider.regressions.unit.test.ts.
 */
const settings = propertySettings(1_000);
const TIMEOUT_MS = 60_000;

describe("run decider, generated histories", () => {
  it(
    "every command of every history keeps the run invariants",
    () => {
      fc.assert(
        fc.property(moves(), (history) => {
          const violation = firstViolation(play(history));
          if (violation) throw new Error(violation);
        }),
        settings,
      );
    },
    TIMEOUT_MS,
  );

  it(
    "decide is pure and deterministic: it changes nothing it is given and decides the same twice",
    () => {
      fc.assert(
        fc.property(moves(40), (history) => {
          for (const { command, before } of play(history).played) {
            const snapshot = JSON.stringify(before);
            const outcome = () => {
              try {
                return { events: decide(command, before) };
              } catch (error) {
                return { refused: String(error) };
              }
            };
            expect(outcome()).toEqual(outcome());
            expect(JSON.stringify(before)).toBe(snapshot);
          }
        }),
        { ...settings, numRuns: Math.max(1, Math.floor(settings.numRuns / 4)) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "evolve is total: any sequence of run events, in any order, folds without throwing",
    () => {
      fc.assert(
        fc.property(fc.array(anyRunEvent, { maxLength: 40 }), (events) => {
          let state: RunState = initialState();
          for (const event of events) state = evolve(state, event);
          expect(typeof state.exists).toBe("boolean");
        }),
        settings,
      );
    },
    TIMEOUT_MS,
  );
});

const at = fc
  .integer({ min: 0, max: 10_000 })
  .map((s) => new Date(Date.UTC(2026, 0, 1) + s * 1_000).toISOString());
const stepId = fc.constantFrom(...STEPS.map((step) => step.id), "ghost");
const attempt = fc.integer({ min: 0, max: 5 });
const json: fc.Arbitrary<Json> = fc.jsonValue() as fc.Arbitrary<Json>;
const attempts = fc.dictionary(stepId, attempt, { maxKeys: 4 });
const workerId = fc.constantFrom("w1", "w2");

/** Every event type with arbitrary (well-typed) payloads: what a stored history could hold. */
const anyRunEvent: fc.Arbitrary<RunEvent> = fc.oneof(
  fc.record({
    type: fc.constant("RunStarted" as const),
    data: fc.record({
      runId: fc.constant(RUN_ID),
      workspaceId: fc.constant("ws"),
      pipeline: fc.constant("autofix"),
      steps: fc.constant(STEPS),
      input: json,
      idempotencyKey: fc.option(fc.string()),
      at,
    }),
  }),
  fc.record({
    type: fc.constant("RunClaimed" as const),
    data: fc.record({ workerId, leaseExpiresAt: at, takeover: fc.boolean(), at }),
  }),
  fc.record({ type: fc.constant("RunReleased" as const), data: fc.record({ workerId, at }) }),
  fc.record({
    type: fc.constant("StepStarted" as const),
    data: fc.record({ stepId, attempt, workerId, at }),
  }),
  fc.record({
    type: fc.constant("StepProgressed" as const),
    data: fc.record({
      stepId,
      attempt,
      progress: fc.option(fc.double()),
      message: fc.option(fc.string()),
      at,
    }),
  }),
  fc.record({
    type: fc.constant("AlternativesProduced" as const),
    data: fc.record({ stepId, attempt, alternatives: fc.array(json, { maxLength: 3 }), at }),
  }),
  fc.record({
    type: fc.constant("AlternativeSelected" as const),
    data: fc.record({ stepId, attempt, index: fc.integer({ min: -1, max: 4 }), at }),
  }),
  fc.record({
    type: fc.constant("StepCompleted" as const),
    data: fc.record({
      stepId,
      attempt,
      output: json,
      truncated: fc.boolean(),
      message: fc.option(fc.string()),
      at,
    }),
  }),
  fc.record({
    type: fc.constant("StepFailed" as const),
    data: fc.record({ stepId, attempt, error: fc.string(), willRetry: fc.boolean(), at }),
  }),
  fc.record({ type: fc.constant("RunCompleted" as const), data: fc.record({ stepCount: fc.nat(), at }) }),
  fc.record({
    type: fc.constant("RunFailed" as const),
    data: fc.record({
      error: fc.string(),
      reason: fc.constantFrom("step-failed" as const, "stale" as const),
      at,
    }),
  }),
  fc.record({
    type: fc.constant("RunCancelled" as const),
    data: fc.record({ reason: fc.option(fc.string()), at }),
  }),
  fc.record({
    type: fc.constant("StepRetried" as const),
    data: fc.record({ stepId, attempt, attempts, at }, { requiredKeys: ["stepId", "attempt", "at"] }),
  }),
  fc.record({
    type: fc.constant("RunResumed" as const),
    data: fc.record({ fromStepId: stepId, attempts, at }),
  }),
  fc.record({ type: fc.constant("RunRerun" as const), data: fc.record({ attempts, at }) }),
);
