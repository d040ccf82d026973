import { EventStoreUnavailableError } from "../event-store/event-store.js";
import type { StreamItem } from "./follow-stream.js";
import type { RunWorkspaces } from "./run-workspaces.js";

/** The all-runs stream minus the runs of other workspaces. */
export async function* visibleEvents(
  items: AsyncGenerator<StreamItem>,
  workspaces: RunWorkspaces,
  workspaceId: string,
): AsyncGenerator<StreamItem> {
  for await (const item of items) {
    if (item.kind !== "event") {
      yield item;
      continue;
    }
    let owner: string | null;
    try {
      owner = await workspaces.of(item.event);
    } catch (error) {
      if (!(error instanceof EventStoreUnavailableError)) throw error;
      // Cannot tell whose it is: end the stream; the client resumes from the event before it.
      yield { kind: "end", reason: "failed", message: error.message };
      return;
    }
    if (owner === workspaceId) yield item;
  }
}
