import type { RunCommand } from "./commands.js";
import { decide } from "./decide.js";
import type { RunEvent } from "./events.js";
import { evolve, initialState, type RunState } from "./state.js";

/** Emmett-style decider: everything the command handler needs to know about runs. */
export interface Decider<State, Command, Event> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

export const runDecider: Decider<RunState, RunCommand, RunEvent> = { decide, evolve, initialState };
