import { type HandleOptions, type HandleResult, handleCommand } from "../commands/command-handler.js";
import type { EventStore } from "../event-store/event-store.js";
import type { RunCommand } from "./commands.js";
import { runDecider } from "./decider.js";
import { type RunEvent, runStreamName, toRunEvent } from "./events.js";
import type { RunState } from "./state.js";

export interface ExecuteOptions {
  expectedRevision?: number | null;
  commandId?: string;
  metadata?: Record<string, string>;
  checkHistory?: HandleOptions<RunEvent>["checkHistory"];
}

/** Runs one command against its run's stream through the generic command handler. */
export function executeRunCommand(
  store: EventStore,
  command: RunCommand,
  options: ExecuteOptions = {},
): Promise<HandleResult<RunState>> {
  return handleCommand(store, runDecider, runStreamName(command.runId), command, {
    expectedRevision: options.expectedRevision,
    commandId: options.commandId,
    metadata: { command: command.type, ...options.metadata },
    occurredAt: new Date(command.now),
    checkHistory: options.checkHistory,
    toEvent: toRunEvent,
  });
}
