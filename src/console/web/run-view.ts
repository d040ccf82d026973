import { connectionBadge } from "./connection-badge.js";
import { h, mount, pill } from "./dom.js";
import { live, request } from "./graphql.js";
import { historyView } from "./history-view.js";
import type { View } from "./main.js";
import { COMMANDS, RUN, RUN_AT, RUN_EVENTS, RUN_UPDATED } from "./queries.js";
import { type StepActions, stepsView } from "./steps-view.js";
import { allows, type Run, type RunEventItem } from "./types.js";

/**
 * One run: its state live (runUpdated), its event history live (runEvents, resumed from the last
 * revision after any drop), the commands its state accepts, and a slider through its history that
 * shows the run as it was after any revision (run(id, atRevision), folded by the server).
 */
export function runView(root: HTMLElement, runId: string): View {
  let current: Run | null = null;
  /** The revision the slider shows; null while it follows the live run. */
  let viewing: number | null = null;
  let shown: Run | null = null;
  const stateBadge = connectionBadge("state", "state-connection");
  const historyBadge = connectionBadge("history", "history-connection");
  const history = historyView();
  const header = h("section", { class: "run-head" });
  const flash = h("p", { class: "error", "data-testid": "command-error" });
  const steps = h("div", { class: "steps-box" });
  const slider = h("input", {
    type: "range",
    min: 0,
    max: 0,
    value: 0,
    step: 1,
    "data-testid": "history-slider",
  });
  const sliderLabel = h("span", { "data-testid": "slider-label" });
  const backToLive = h(
    "button",
    { class: "small secondary", hidden: true, "data-testid": "back-to-live" },
    "Back to live",
  );

  const send = async (name: keyof typeof COMMANDS, variables: Record<string, unknown>) => {
    flash.textContent = "";
    try {
      const expected = name === "failStaleRun" ? {} : { expectedRevision: current?.revision ?? null };
      const data = await request<Record<string, Run>>(COMMANDS[name], { runId, ...variables, ...expected });
      const run = data[name];
      if (run) show(run);
    } catch (error) {
      flash.textContent = (error as Error).message;
    }
  };

  const actions: StepActions = {
    select: (step, index) => void send("selectAlternative", { stepId: step.id, index }),
    retry: (step) => void send("retryStep", { stepId: step.id }),
    resume: (step) => void send("resumeFromStep", { stepId: step.id }),
  };

  const renderHeader = (run: Run) => {
    const button = (
      command: Parameters<typeof allows>[1],
      name: keyof typeof COMMANDS,
      label: string,
      kind = "",
    ) =>
      allows(run, command) &&
      h("button", { class: kind, "data-testid": `cmd-${name}`, onclick: () => void send(name, {}) }, label);
    mount(
      header,
      h("a", { href: "#/", class: "muted" }, "← runs"),
      h(
        "h1",
        {},
        h("span", { class: "mono" }, run.id),
        " ",
        pill(run.status, "run-status"),
        run.stale && h("span", { class: "tag-stale", "data-testid": "stale" }, "stale"),
      ),
      h(
        "p",
        { class: "muted" },
        `${run.pipeline} · revision `,
        h("span", { "data-testid": "run-revision" }, run.revision),
        run.phase ? ` · phase ${run.phase}` : "",
      ),
      run.error && h("p", { class: "error", "data-testid": "run-error" }, run.error),
      h(
        "div",
        { class: "actions", "data-testid": "run-actions" },
        button("CANCEL_RUN", "cancelRun", "Cancel run", "danger"),
        button("RERUN_RUN", "rerunRun", "Re-run"),
        button("FAIL_STALE_RUN", "failStaleRun", "Fail stale run", "danger"),
      ),
      h("div", { class: "badges" }, stateBadge.element, historyBadge.element),
    );
  };

  /** Renders the live run, unless the slider shows a past revision. */
  function show(run: Run) {
    if (current && run.revision < current.revision) return;
    current = run;
    const latest = Math.max(run.revision, history.lastRevision());
    slider.max = String(latest);
    if (viewing === null) {
      slider.value = String(latest);
      shown = run;
      render();
    }
  }

  function render() {
    if (!shown || !current) return;
    renderHeader(shown);
    const past = viewing !== null;
    sliderLabel.textContent = past
      ? `as it was after revision ${viewing} (${history.typeAt(viewing as number) ?? "event"}) of ${current.revision}`
      : `live, revision ${current.revision}`;
    backToLive.hidden = !past;
    steps.classList.toggle("past", past);
    mount(steps, stepsView(shown, actions));
  }

  let travel = 0;
  slider.addEventListener("input", () => {
    const at = Number(slider.value);
    const ticket = ++travel;
    if (current && at >= current.revision && at >= history.lastRevision()) {
      viewing = null;
      shown = current;
      render();
      return;
    }
    viewing = at;
    // Only the newest answer counts while the slider moves.
    request<{ run: Run }>(RUN_AT, { id: runId, at })
      .then(({ run }) => {
        if (ticket !== travel) return;
        shown = run;
        render();
      })
      .catch((error: Error) => {
        flash.textContent = error.message;
      });
  });
  backToLive.addEventListener("click", () => {
    travel++;
    viewing = null;
    if (current) show(current);
    render();
  });

  mount(
    root,
    header,
    flash,
    h("section", { class: "card travel" }, h("h2", {}, "History"), slider, sliderLabel, backToLive),
    steps,
    history.element,
  );

  const notFound = () => {
    state.dispose();
    events.dispose();
    mount(
      root,
      h("p", { class: "error", "data-testid": "run-not-found" }, `Run ${runId} was not found.`),
      h("a", { href: "#/" }, "← runs"),
    );
  };

  request<{ run: Run | null }>(RUN, { id: runId })
    .then(({ run }) => (run ? show(run) : notFound()))
    .catch((error: Error) => {
      flash.textContent = error.message;
    });
  const state = live<{ runUpdated: Run }>({
    query: RUN_UPDATED,
    variables: { runId },
    onData: ({ runUpdated }) => show(runUpdated),
    onStatus: (status) => stateBadge.update(status),
    onError: (error) => {
      if (error.code === "NOT_FOUND") notFound();
      else flash.textContent = error.message;
    },
  });
  const events = live<{ runEvents: RunEventItem }>({
    query: RUN_EVENTS,
    variables: { runId },
    cursor: { variable: "after", type: "int" },
    onData: ({ runEvents }) => {
      history.append(runEvents);
      if (viewing === null && current && runEvents.revision > Number(slider.max)) {
        slider.max = String(runEvents.revision);
        slider.value = slider.max;
      }
    },
    onStatus: (status) => historyBadge.update(status),
  });

  return {
    dispose() {
      state.dispose();
      events.dispose();
      stateBadge.dispose();
      historyBadge.dispose();
    },
  };
}
