import type { YogaInitialContext } from "graphql-yoga";
import { builder } from "../api/builder.js";
import type { GraphQLContext } from "../api/context.js";
import { InvalidPositionError, type StoredEvent } from "../event-store/event-store.js";
import { runStreamName } from "../runs/events.js";
import { assertRunVisible, loadRun } from "../runs/run-access.js";
import { RunEventRef } from "../runs/run-event.schema.js";
import { InvalidInputError } from "../shared/errors.js";
import { closableStream } from "./closable-stream.js";
import { type FanoutPlan, fanoutPlan, recordFanoutPlan } from "./fanout/fanout-plan.js";
import type { StreamItem } from "./follow-stream.js";
import { followRunUpdates, type RunTick } from "./run-updates.js";
import { recordCursor } from "./stream-cursors.js";
import { streamItemError } from "./stream-errors.js";
import { allRunEventsSource } from "./stream-source.js";
import { streamingFor } from "./streaming-service.js";
import { untilTerminalEvent } from "./until-terminal.js";
import { visibleEvents } from "./visible-events.js";

type Context = GraphQLContext & Partial<Pick<YogaInitialContext, "request">>;
type FanoutStream = Pick<FanoutPlan, "kind" | "source" | "after" | "cursorText" | "workspaceId">;

/** `Last-Event-ID`, which EventSource resends on every reconnect with the last `id:` it received. */
const lastEventId = (ctx: Context): string | null =>
  ctx.request?.headers.get("last-event-id")?.trim() || null;

/** Runs deleted from the read model end their streams: checked by each run's live feed now and then. */
function runExists(ctx: Context, runId: string): () => Promise<boolean> {
  let seen = false;
  let firstPosition: string | null = null;
  return async () => {
    const found = await streamingFor(ctx.app).runInReadModel.load(runId);
    if (found) seen = true;
    if (found || seen) return found;
    // Never seen: a brand-new run the projections have not reached yet, or one deleted since. It is
    // gone only if the projections already applied its first event.
    firstPosition ??=
      (await ctx.app.store.readStream(runStreamName(runId), { maxCount: 1 }))[0]?.position ?? null;
    if (firstPosition === null) return false;
    try {
      await ctx.app.projections.waitFor(firstPosition, 1);
      return false;
    } catch {
      return true;
    }
  };
}

function eventOrError(item: StreamItem, ctx: Context, cursorOf: (event: StoredEvent) => string): StoredEvent {
  if (item.kind === "event") {
    recordCursor(ctx, cursorOf(item.event));
    return item.event;
  }
  recordCursor(ctx, null);
  throw streamItemError(item);
}

/**
 * Where `events` starts: the later of `after` and Last-Event-ID, both in the store's current form (a
 * cursor from before an upgrade of the store is converted), neither beyond the log's head.
 * - `after` beyond the head, or not a position at all, is refused: the client asked for it, and a
 *   cursor this log never handed out says nothing about what the client has seen.
 * - Last-Event-ID beyond the head is clamped to it, not refused nor ignored: EventSource resends it
 *   by itself on every reconnect and its page cannot change it, so a refusal would fail every
 *   reconnect; ignoring it would replay the whole log. A client that holds it was most likely
 *   served by this store before it was restored from an older backup, and has seen everything up
 *   to the head; it goes on with the next new event. A malformed one is ignored.
 * The shared feeds of the fan-out start from their own position, whatever a subscriber's cursor.
 */
async function eventsCursor(ctx: Context, requested: string | null): Promise<string | null> {
  const refuse = (why: string) =>
    new InvalidInputError(
      `\`after\` ${why}: subscribe from the start (no \`after\`), or resume each run from its revision with \`runEvents(runId, after)\``,
    );
  const normalized = async (position: string | null): Promise<string | null> => {
    if (!position) return null;
    try {
      return await ctx.app.store.normalizePosition(position);
    } catch (error) {
      if (!(error instanceof InvalidPositionError)) throw error;
      if (position === requested) throw refuse("is not a position of `events`");
      return null;
    }
  };
  const after = await normalized(requested);
  const resumed = await normalized(lastEventId(ctx));
  if (after === null && resumed === null) return null;
  const head = await ctx.app.store.headPosition();
  // An empty log has handed out no position yet, so any cursor is beyond its head.
  if (after !== null && (head === null || after > head)) throw refuse("is beyond the last event of the log");
  const clamped = resumed !== null && (head === null || resumed > head) ? head : resumed;
  return (
    [after, clamped]
      .filter((position) => position !== null)
      .sort()
      .at(-1) ?? null
  );
}

builder.subscriptionType({});

builder.subscriptionField("runEvents", (t) =>
  t.field({
    type: RunEventRef,
    description:
      "the run's events after revision `after` (exclusive; null = from the start): stored ones first, then live ones, in order, each once. " +
      "By default the stream stays open after a terminal event (RunCompleted, RunFailed, RunCancelled), since retryStep, resumeFromStep and rerunRun continue the same run; with `untilTerminal: true` it completes right after the first terminal event it delivers",
    args: {
      runId: t.arg.id({ required: true }),
      after: t.arg.int(),
      untilTerminal: t.arg.boolean({
        description:
          "complete the stream after the first terminal event (RunCompleted, RunFailed or RunCancelled) after `after`; default false: stay open",
      }),
    },
    subscribe: async (_root, args, ctx: Context, info) => {
      if (args.after != null && args.after < -1) {
        throw new InvalidInputError(`after must be a revision (0 or more), got ${args.after}`);
      }
      await assertRunVisible(ctx, args.runId);
      // The later of `after` and Last-Event-ID wins; a malformed Last-Event-ID is ignored. Neither
      // goes beyond the run's last event (a client may resend a cursor of a store since restored
      // from a backup): clamped to it, the stream then carries on from the run's next event.
      const header = lastEventId(ctx);
      const resumed = header && /^\d{1,15}$/.test(header) ? Number(header) : -1;
      const head = (await ctx.app.store.streamRevision(runStreamName(args.runId))) ?? -1;
      const after = Math.min(Math.max(args.after ?? -1, resumed), head);
      const streaming = streamingFor(ctx.app);
      const source = streaming.runSource(args.runId, runExists(ctx, args.runId));
      const cursorText = (cursor: unknown) => String(cursor);
      const stream = { kind: "runEvents", source, after, cursorText, workspaceId: null } as const;
      // The SSE fan-out does not know untilTerminal: such a stream is served by Yoga (below).
      if (!args.untilTerminal) recordFanoutPlan(ctx.request, fanoutPlan(ctx, info, stream as FanoutStream));
      // Served by Yoga only when the SSE fan-out does not take the subscription over.
      return closableStream((signal) => {
        const items = streaming.follow(source, after, "runEvents", signal);
        return args.untilTerminal ? untilTerminalEvent(items) : items;
      }, ctx.request?.signal);
    },
    resolve: (item: StreamItem, _args, ctx: Context) =>
      eventOrError(item, ctx, (event) => String(event.revision)),
  }),
);

builder.subscriptionField("events", (t) =>
  t.field({
    type: RunEventRef,
    description:
      "all runs' events after global position `after` (exclusive; null = from the start), then live; it never completes by itself, terminal events included",
    args: { after: t.arg.string() },
    subscribe: async (_root, args, ctx: Context, info) => {
      const after = await eventsCursor(ctx, args.after ?? null);
      const streaming = streamingFor(ctx.app);
      const source = allRunEventsSource(ctx.app.store);
      const cursorText = (cursor: unknown) => String(cursor);
      const stream = { kind: "events", source, after, cursorText, workspaceId: ctx.workspaceId } as const;
      recordFanoutPlan(ctx.request, fanoutPlan(ctx, info, stream as FanoutStream));
      return closableStream(
        (signal) =>
          visibleEvents(
            streaming.follow(source, after, "events", signal),
            streaming.workspaces,
            ctx.workspaceId,
          ),
        ctx.request?.signal,
      );
    },
    resolve: (item: StreamItem, _args, ctx: Context) => eventOrError(item, ctx, (event) => event.position),
  }),
);

builder.subscriptionField("runUpdated", (t) =>
  t.prismaField({
    type: "Run",
    description:
      "the run's read model each time it changes, starting with its current state; stays open after the run ends (a retry, resume or rerun changes it again)",
    args: { runId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx: Context) => {
      await assertRunVisible(ctx, args.runId);
      const streaming = streamingFor(ctx.app);
      const source = streaming.runSource(args.runId, runExists(ctx, args.runId));
      return closableStream(
        (signal) => followRunUpdates(ctx.app, streaming, source, signal),
        ctx.request?.signal,
      );
    },
    resolve: async (query, tick: RunTick | StreamItem, args, ctx: Context) => {
      recordCursor(ctx, null);
      if (tick.kind !== "run") throw streamItemError(tick as Exclude<StreamItem, { kind: "event" }>);
      const run = await loadRun(ctx, withRevision(query), args.runId);
      tick.shown.revision = Math.max(tick.shown.revision, run.revision);
      return run;
    },
  }),
);

/** The selection the client asked for, plus the revision (the stream needs it to skip old events). */
function withRevision<Query extends object>(query: Query): Query {
  const select = (query as { select?: Record<string, unknown> }).select;
  return select ? { ...query, select: { ...select, revision: true } } : query;
}
