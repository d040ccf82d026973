import type { Decider } from "../commands/decider.js";
import type { RunCommand } from "./commands.js";
import { decide } from "./decide.js";
import type { RunEvent } from "./events.js";
import { evolve, initialState, type RunState } from "./state.js";

/** Everything the command handler needs to know about runs. */
export const runDecider: Decider<RunState, RunCommand, RunEvent> = { decide, evolve, initialState };
