import { connectionBadge } from "./connection-badge.js";
import { formatTime, h, mount, pill } from "./dom.js";
import { live, request } from "./graphql.js";
import type { View } from "./main.js";
import { operatorsPanel } from "./operators-panel.js";
import { COMMANDS, EVENTS, PIPELINES, RUN_ROW, RUNS, START_RUN } from "./queries.js";
import { allows, type Caller, RUN_STATUSES, type RunRow } from "./types.js";

const PAGE = 50;

/** An autofix input that runs long enough to watch: one file with things to fix, 4 s per step. */
const SAMPLE_INPUT = JSON.stringify(
  { files: [{ path: "src/app.js", content: "var answer = 42;   \n// TODO: explain\n" }], delayMs: 4000 },
  null,
  2,
);

/**
 * The runs of the caller's workspace, newest first, with a status filter. Kept live by the `events`
 * subscription (one connection for the whole list: a runUpdated stream per row would run into the
 * browser's six connections per host): each event refetches the row of its run.
 */
export function runsView(root: HTMLElement, caller: Caller): View {
  let status = new URLSearchParams(location.hash.split("?")[1] ?? "").get("status") ?? "";
  let rows: RunRow[] = [];
  let subscription: ReturnType<typeof live> | null = null;
  const badge = connectionBadge("list", "list-connection");
  const operators = operatorsPanel();
  const tbody = h("tbody", { "data-testid": "runs-body" });
  const message = h("p", { class: "error", "data-testid": "runs-error" });
  const pending = new Set<string>();
  let flush: ReturnType<typeof setTimeout> | undefined;

  const filter = h(
    "select",
    {
      "data-testid": "status-filter",
      onchange: () => {
        status = filter.value;
        void reload();
      },
    },
    h("option", { value: "" }, "all statuses"),
    RUN_STATUSES.map((value) => h("option", { value }, value)),
  );
  filter.value = status;

  const render = () => {
    mount(
      tbody,
      rows.length === 0
        ? h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No runs."))
        : rows.map((run) =>
            h(
              "tr",
              { class: run.stale ? "stale" : "", "data-testid": "run-row", "data-run-id": run.id },
              h("td", {}, h("a", { href: `#/runs/${run.id}`, class: "mono" }, run.id.slice(0, 8))),
              h("td", {}, run.pipeline),
              h(
                "td",
                {},
                pill(run.status, "run-status"),
                run.stale && h("span", { class: "tag-stale" }, "stale"),
              ),
              h("td", {}, run.phase ?? "—"),
              h("td", { class: "num" }, run.revision),
              h(
                "td",
                {},
                formatTime(run.updatedAt),
                allows(run, "FAIL_STALE_RUN") &&
                  h(
                    "button",
                    {
                      class: "danger small",
                      "data-testid": "fail-stale",
                      onclick: () => void failStale(run),
                    },
                    "Fail stale run",
                  ),
              ),
            ),
          ),
    );
  };

  async function failStale(run: RunRow) {
    try {
      await request(COMMANDS.failStaleRun, { runId: run.id });
      await refresh([run.id]);
    } catch (error) {
      message.textContent = (error as Error).message;
    }
  }

  /** The newest revision the `events` stream announced per run: a row behind it is fetched again. */
  const announced = new Map<string, number>();

  /**
   * Refetches changed rows; a run that no longer matches the filter leaves the list. The read model
   * can lag the event stream: a row older than the event that announced it is fetched again shortly.
   */
  async function refresh(ids: string[]) {
    for (const id of ids) {
      const { run } = await request<{ run: RunRow | null }>(RUN_ROW, { id });
      if (run && run.revision < (announced.get(id) ?? -1)) changed(id, run.revision, 250);
      const index = rows.findIndex((row) => row.id === id);
      const matches = run && (!status || run.status === status);
      if (index >= 0) {
        if (matches) rows[index] = run;
        else rows.splice(index, 1);
      } else if (matches) {
        rows.unshift(run);
      }
    }
    render();
  }

  function changed(runId: string, revision: number, delayMs = 150) {
    announced.set(runId, Math.max(announced.get(runId) ?? -1, revision));
    pending.add(runId);
    // Bursts of progress events cost one refetch per run.
    flush ??= setTimeout(() => {
      flush = undefined;
      const ids = [...pending];
      pending.clear();
      refresh(ids).catch((error: Error) => {
        message.textContent = error.message;
      });
    }, delayMs);
  }

  async function reload() {
    subscription?.dispose();
    message.textContent = "";
    history.replaceState(null, "", status ? `#/?status=${status}` : "#/");
    const data = await request<{ runs: { eventsCursor: string | null; edges: { node: RunRow }[] } }>(RUNS, {
      status: status || null,
      first: PAGE,
    });
    rows = data.runs.edges.map((edge) => edge.node);
    render();
    subscription = live<{ events: { runId: string; revision: number } }>({
      query: EVENTS,
      variables: { after: data.runs.eventsCursor },
      cursor: { variable: "after", type: "string" },
      onData: ({ events }) => changed(events.runId, events.revision),
      onStatus: (connection) => badge.update(connection),
      onError: (error) => {
        message.textContent = error.message;
      },
    });
  }

  mount(
    root,
    h("section", { class: "toolbar" }, h("h1", {}, "Runs"), h("label", {}, "Status ", filter), badge.element),
    caller.mayCommand && startForm(),
    message,
    h(
      "table",
      { class: "runs" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["run", "pipeline", "status", "phase", "revision", "updated"].map((name) => h("th", {}, name)),
        ),
      ),
      tbody,
    ),
    operators.element,
  );
  reload().catch((error: Error) => {
    message.textContent = error.message;
  });

  return {
    dispose() {
      subscription?.dispose();
      badge.dispose();
      operators.dispose();
      clearTimeout(flush);
    },
  };
}

/** Starts a run and opens its page. */
function startForm(): HTMLElement {
  const pipeline = h("select", { "data-testid": "pipeline-select" });
  const input = h("textarea", { rows: 6, spellcheck: false, "data-testid": "input-json" }, SAMPLE_INPUT);
  const problem = h("p", { class: "error", "data-testid": "start-error" });
  // Enabled once the pipelines are known, so a quick click cannot start an empty pipeline name.
  const start = h("button", { type: "submit", disabled: true, "data-testid": "start-run" }, "Start run");
  request<{ pipelines: { name: string; description: string }[] }>(PIPELINES)
    .then(({ pipelines }) => {
      mount(
        pipeline,
        pipelines.map((p) => h("option", { value: p.name, title: p.description }, p.name)),
      );
      start.disabled = pipelines.length === 0;
    })
    .catch((error: Error) => {
      problem.textContent = error.message;
    });
  return h(
    "form",
    {
      class: "card start",
      onsubmit: async (event: Event) => {
        event.preventDefault();
        problem.textContent = "";
        try {
          const parsed = input.value.trim() ? JSON.parse(input.value) : null;
          const { startRun } = await request<{ startRun: { id: string } }>(START_RUN, {
            pipeline: pipeline.value,
            input: parsed,
          });
          location.hash = `#/runs/${startRun.id}`;
        } catch (error) {
          problem.textContent = (error as Error).message;
        }
      },
    },
    h("h2", {}, "Start a run"),
    h("label", {}, "Pipeline ", pipeline),
    h("label", { class: "block" }, "Input (JSON)", input),
    start,
    problem,
  );
}
