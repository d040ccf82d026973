import type { ConnectionStatus } from "../../client/resuming-subscription.js";
import { h } from "./dom.js";

/**
 * Shows where one live stream stands: connecting, live, reconnecting (with the time of the next
 * attempt, counting down) or ended. `data-state` carries the state for tests and styles.
 */
export function connectionBadge(label: string, testId: string) {
  const element = h("span", { class: "conn", "data-testid": testId, "data-state": "connecting" });
  let timer: ReturnType<typeof setInterval> | undefined;

  const show = (state: string, text: string) => {
    element.dataset.state = state;
    element.textContent = `${label}: ${text}`;
  };

  return {
    element,
    update(status: ConnectionStatus): void {
      clearInterval(timer);
      if (status.state === "reconnecting") {
        const tick = () => {
          const seconds = Math.max(0, Math.ceil((status.retryAt - Date.now()) / 1000));
          const at = new Date(status.retryAt).toLocaleTimeString();
          show("reconnecting", `reconnecting, next try at ${at} (${seconds}s)`);
        };
        tick();
        timer = setInterval(tick, 500);
      } else if (status.state === "ended") {
        show("ended", status.reason === "error" ? "stream ended (error)" : "stream ended");
      } else {
        show(status.state, status.state);
      }
    },
    dispose(): void {
      clearInterval(timer);
    },
  };
}
