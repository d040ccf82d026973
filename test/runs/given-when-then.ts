import assert from "node:assert/strict";
import type { RunCommand } from "../../src/runs/commands.js";
import { runDecider } from "../../src/runs/decider.js";
import type { RunEvent } from "../../src/runs/events.js";
import type { Run, RunState } from "../../src/runs/state.js";

type ErrorClass = new (...args: never[]) => Error;

/**
 * given(history).when(command).thenDecides(expected events) — or .thenFails(ErrorClass). Both return the
 * state after the command, so a test can go on checking what the events did.
 */
export function given(history: RunEvent[]) {
  const state = history.reduce(runDecider.evolve, runDecider.initialState());
  return {
    state,
    when(command: RunCommand) {
      return {
        thenDecides(expected: RunEvent[]): RunState {
          const events = runDecider.decide(command, state);
          assert.deepEqual(events, expected);
          return events.reduce(runDecider.evolve, state);
        },
        /** Checks the error type (and message), and that deciding is pure: the state is untouched. */
        thenFails(errorClass: ErrorClass, message?: RegExp): void {
          const before = structuredClone(state);
          assert.throws(
            () => runDecider.decide(command, state),
            (error: unknown) => {
              assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
              if (message) assert.match((error as Error).message, message);
              return true;
            },
          );
          assert.deepEqual(state, before);
        },
        /** The events decided, for tests that only check some of their fields. */
        events(): RunEvent[] {
          return runDecider.decide(command, state);
        },
      };
    },
  };
}

export function asRun(state: RunState): Run {
  assert.ok(state.exists, "the run exists");
  return state;
}
