import { h, mount } from "./dom.js";
import { ApiError, request } from "./graphql.js";
import { CALLER } from "./queries.js";
import { runView } from "./run-view.js";
import { runsView } from "./runs-view.js";
import { session } from "./session.js";
import type { Caller } from "./types.js";

/** A view of the page; disposing it closes its live streams. */
export interface View {
  dispose(): void;
}

const app = document.getElementById("app") as HTMLElement;
const who = document.getElementById("who") as HTMLElement;
let current: View | null = null;

function signInForm(problem: string | null): void {
  who.replaceChildren();
  const input = h("input", {
    type: "password",
    name: "token",
    placeholder: "rs_…",
    autocomplete: "off",
    "data-testid": "token-input",
  });
  const form = h(
    "form",
    {
      class: "card signin",
      "data-testid": "signin",
      onsubmit: (event: Event) => {
        event.preventDefault();
        if (!input.value.trim()) return;
        session.signIn(input.value);
        void route();
      },
    },
    h("h1", {}, "Sign in"),
    h(
      "p",
      { class: "muted" },
      "Paste an API token. It stays in this tab (sessionStorage) and is sent only in the Authorization header.",
    ),
    input,
    h("button", { type: "submit", "data-testid": "signin-button" }, "Sign in"),
    problem && h("p", { class: "error", "data-testid": "signin-error" }, problem),
  );
  mount(app, form);
  input.focus();
}

async function route(): Promise<void> {
  current?.dispose();
  current = null;
  if (!session.token()) return signInForm(null);
  let caller: Caller;
  try {
    caller = (await request<{ caller: Caller }>(CALLER)).caller;
  } catch (error) {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
      session.signOut();
      return signInForm("That token was not accepted.");
    }
    mount(app, h("p", { class: "error" }, `The API did not answer: ${(error as Error).message}`));
    return;
  }
  mount(
    who,
    h(
      "span",
      { "data-testid": "caller" },
      `${caller.tokenName} · ${caller.role} · workspace ${caller.workspaceId}`,
    ),
    h(
      "button",
      {
        class: "link",
        "data-testid": "signout",
        onclick: () => {
          session.signOut();
          void route();
        },
      },
      "Sign out",
    ),
  );
  const match = /^#\/runs\/([^/]+)$/.exec(location.hash);
  current = match?.[1] ? runView(app, decodeURIComponent(match[1])) : runsView(app, caller);
}

window.addEventListener("hashchange", () => void route());
void route();
