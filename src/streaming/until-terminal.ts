import type { RunEventType } from "../runs/events.js";
import type { StreamItem } from "./follow-stream.js";

/** Events after which a run does nothing more unless a client retries, resumes or reruns it. */
const TERMINAL_EVENTS: ReadonlySet<RunEventType> = new Set<RunEventType>([
  "RunCompleted",
  "RunFailed",
  "RunCancelled",
]);

export const isTerminalEvent = (type: string): boolean => TERMINAL_EVENTS.has(type as RunEventType);

/** The items of `items` up to and including the first terminal event; then the stream completes. */
export async function* untilTerminalEvent(items: AsyncGenerator<StreamItem>): AsyncGenerator<StreamItem> {
  for await (const item of items) {
    yield item;
    if (item.kind === "event" && isTerminalEvent(item.event.type)) return;
  }
}
