/** Emmett-style decider: everything the generic command handler needs to know about an aggregate. */
export interface Decider<State, Command, Event> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}
