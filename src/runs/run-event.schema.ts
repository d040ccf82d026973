import { builder } from "../api/builder.js";
import type { StoredEvent } from "../event-store/event-store.js";
import { InvalidInputError } from "../shared/errors.js";
import { runIdOfStream, runStreamName } from "./events.js";
import { assertRunVisible } from "./run-access.js";

export const RUN_EVENTS_DEFAULT_PAGE = 100;
export const RUN_EVENTS_MAX_PAGE = 1_000;

/** A stored event of a run's stream, as clients see it (also what the subscriptions stream). */
export const RunEventRef = builder.objectRef<StoredEvent>("RunEvent").implement({
  fields: (t) => ({
    runId: t.id({ resolve: (event) => runIdOfStream(event.streamName) }),
    revision: t.exposeInt("revision", {
      description: "revision of this event in its run's stream (0, 1, 2, ... without gaps)",
    }),
    position: t.exposeString("position", {
      description: "opaque cursor of this event in the global order of all runs' events",
    }),
    type: t.exposeString("type"),
    data: t.field({ type: "JSON", resolve: (event) => event.data }),
    occurredAt: t.field({ type: "DateTime", resolve: (event) => event.occurredAt }),
  }),
});

builder.queryField("runEvents", (t) =>
  t.field({
    type: [RunEventRef],
    description: "stored events of one run after revision `after` (exclusive; null = from the start)",
    args: {
      runId: t.arg.id({ required: true }),
      after: t.arg.int(),
      first: t.arg.int({
        description: `how many events at most, ${RUN_EVENTS_DEFAULT_PAGE} when null, at most ${RUN_EVENTS_MAX_PAGE}`,
      }),
    },
    resolve: async (_root, args, ctx) => {
      const first = args.first ?? RUN_EVENTS_DEFAULT_PAGE;
      if (first < 0 || first > RUN_EVENTS_MAX_PAGE) {
        throw new InvalidInputError(`first must be between 0 and ${RUN_EVENTS_MAX_PAGE}, got ${first}`);
      }
      if (args.after != null && args.after < 0) {
        throw new InvalidInputError(`after must be a revision (0 or more), got ${args.after}`);
      }
      await assertRunVisible(ctx, args.runId);
      if (first === 0) return [];
      return ctx.app.store.readStream(runStreamName(args.runId), {
        ...(args.after != null ? { after: args.after } : {}),
        maxCount: first,
      });
    },
  }),
);
