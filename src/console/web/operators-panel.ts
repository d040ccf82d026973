import { h, mount } from "./dom.js";
import { ApiError, request } from "./graphql.js";
import { PROJECTIONS } from "./queries.js";

const REFRESH_MS = 5_000;

/** Operators' view: how far the read models lag behind the event store (admin only, like the API). */
export function operatorsPanel() {
  const body = h("div", { "data-testid": "projection-lag" });
  const element = h("section", { class: "card operators" }, h("h2", {}, "Read models"), body);
  let timer: ReturnType<typeof setInterval> | undefined;

  const refresh = async () => {
    try {
      const { projectionStatus } = await request<{ projectionStatus: { name: string; lag: number }[] }>(
        PROJECTIONS,
      );
      mount(
        body,
        projectionStatus.map((projection) =>
          h(
            "p",
            { class: projection.lag > 0 ? "lagging" : "" },
            `${projection.name}: `,
            projection.lag === 0 ? "caught up" : `${projection.lag} events behind`,
          ),
        ),
      );
    } catch (error) {
      if (error instanceof ApiError && error.code === "FORBIDDEN") {
        // The API decides who may see it; asking once is enough.
        clearInterval(timer);
        body.textContent = "Projection lag is shown to admin tokens.";
        return;
      }
      body.textContent = `lag unknown: ${(error as Error).message}`;
    }
  };

  void refresh();
  timer = setInterval(refresh, REFRESH_MS);
  return { element, dispose: () => clearInterval(timer) };
}
