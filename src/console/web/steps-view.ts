import { h, pill } from "./dom.js";
import { allows, type Run, type Step } from "./types.js";

/** What a button on a step does; the run page sends the command. */
export interface StepActions {
  select(step: Step, index: number): void;
  retry(step: Step): void;
  resume(step: Step): void;
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

/**
 * The run's steps as cards: status pill, attempt, progress, output (flagged when truncated), error
 * and alternatives. Buttons appear only for the commands the API says the run accepts now (none for a
 * past revision or a token without the role).
 */
export function stepsView(run: Run, actions: StepActions): HTMLElement {
  return h(
    "ol",
    { class: "steps", "data-testid": "steps" },
    run.steps.map((step) => stepCard(run, step, actions)),
  );
}

function stepCard(run: Run, step: Step, actions: StepActions): HTMLElement {
  const canSelect = allows(run, "SELECT_ALTERNATIVE", step.id);
  return h(
    "li",
    {
      class: `step step-${step.status.toLowerCase()}`,
      "data-testid": "step",
      "data-step-id": step.id,
      "data-status": step.status,
    },
    h(
      "div",
      { class: "step-head" },
      h("strong", {}, step.name),
      pill(step.status, "step-status"),
      h("span", { class: "muted", "data-testid": "step-attempt" }, `attempt ${step.attempt}`),
      step.status === "RUNNING" &&
        step.progress !== null &&
        h("progress", { max: 1, value: step.progress, title: `${Math.round(step.progress * 100)}%` }),
      h(
        "span",
        { class: "actions" },
        allows(run, "RETRY_STEP", step.id) &&
          h(
            "button",
            { class: "small", "data-testid": "retry-step", onclick: () => actions.retry(step) },
            "Retry",
          ),
        allows(run, "RESUME_FROM_STEP", step.id) &&
          h(
            "button",
            { class: "small secondary", "data-testid": "resume-step", onclick: () => actions.resume(step) },
            "Resume from here",
          ),
      ),
    ),
    step.message && h("p", { class: "muted" }, step.message),
    step.error && h("p", { class: "error", "data-testid": "step-error" }, step.error),
    step.output !== null &&
      h(
        "details",
        { class: "output" },
        h(
          "summary",
          {},
          "output",
          step.outputTruncated &&
            h("span", { class: "tag-truncated", "data-testid": "truncated" }, "truncated"),
        ),
        h("pre", {}, json(step.output)),
      ),
    step.alternatives &&
      h(
        "div",
        { class: "alternatives", "data-testid": "alternatives" },
        step.alternatives.map((alternative, index) =>
          h(
            "div",
            {
              class: `alternative ${step.selectedIndex === index ? "selected" : ""}`,
              "data-testid": "alternative",
            },
            h("pre", {}, json(alternative)),
            step.selectedIndex === index && h("span", { class: "tag-selected" }, "selected"),
            canSelect &&
              h(
                "button",
                {
                  class: "small",
                  "data-testid": "select-alternative",
                  onclick: () => actions.select(step, index),
                },
                `Select #${index + 1}`,
              ),
          ),
        ),
      ),
  );
}
