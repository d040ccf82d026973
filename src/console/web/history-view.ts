import { h } from "./dom.js";
import type { RunEventItem } from "./types.js";

/** The first fields of an event's data worth a glance, without the timestamp every event carries. */
function summary(data: Record<string, unknown>): string {
  const shown = Object.entries(data)
    .filter(([key]) => key !== "at")
    .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : String(value)}`)
    .join(" ");
  return shown.length > 160 ? `${shown.slice(0, 160)}…` : shown;
}

/**
 * The run's event history as it streams in: one row per delivered event, never deduplicated, so a
 * repeated or missing event would show (the browser tests compare the rows with the stored stream).
 */
export function historyView() {
  const received: RunEventItem[] = [];
  const body = h("tbody", { "data-testid": "history-body" });
  const element = h(
    "section",
    { class: "card history" },
    h("h2", {}, "Events"),
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["rev", "type", "at", "data"].map((name) => h("th", {}, name)),
        ),
      ),
      body,
    ),
  );
  return {
    element,
    append(event: RunEventItem): void {
      received.push(event);
      body.append(
        h(
          "tr",
          { "data-testid": "event-row", "data-revision": event.revision, "data-type": event.type },
          h("td", { class: "num" }, event.revision),
          h("td", {}, event.type),
          h("td", {}, new Date(event.occurredAt).toLocaleTimeString()),
          h("td", { class: "mono small" }, summary(event.data)),
        ),
      );
    },
    lastRevision: (): number => received.at(-1)?.revision ?? -1,
    typeAt: (revision: number): string | undefined =>
      received.find((event) => event.revision === revision)?.type,
  };
}
