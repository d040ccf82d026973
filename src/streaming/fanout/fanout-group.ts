import { createMaskError, UNEXPECTED_ERROR_MESSAGE } from "../../api/errors.js";
import { EventStoreUnavailableError, type StoredEvent } from "../../event-store/event-store.js";
import type { StreamItem } from "../follow-stream.js";
import type { FeedEnd, FeedListener, LiveFeed } from "../live-feed.js";
import { streamingMetrics } from "../metrics.js";
import type { RunWorkspaces } from "../run-workspaces.js";
import { serialiseResult } from "../sse-result-processor.js";
import type { FanoutPlan } from "./fanout-plan.js";
import { type SubscriptionExecution, subscriptionExecution } from "./subscription-execution.js";

/**
 * Consecutive live events of a group, in the feed's order, executed and serialised: `joined` is
 * every frame in one buffer (made once, written as is to each member that has none of them yet).
 */
export interface FrameBatch {
  cursors: unknown[];
  frames: Buffer[];
  joined: Buffer;
}

export const frameBatch = (cursors: unknown[], frames: Buffer[]): FrameBatch => ({
  cursors,
  frames,
  joined: frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames),
});

/** One member of a group, as the group sees it. */
export interface GroupMember {
  /**
   * Live events; the member drops what it already has by cursor. Returns how many it wrote to its
   * client (none when dropped, or buffered during its catch-up).
   */
  offer(batch: FrameBatch): number;
  /** The store failed (live members tell their client; catching-up ones retry by themselves). */
  notice(frame: Buffer): void;
  /** The feed ended: the frame to end with (null: complete cleanly). */
  finish(frame: Buffer | null, end: FeedEnd): void;
}

/**
 * The subscribers of one distinct subscription (see FanoutPlan.groupKey): each live event is
 * filtered, executed and serialised ONCE here, and the same bytes go to every member. Events are
 * handled one after another in the feed's order, whatever waits the visibility check makes, and
 * so are the store's failures and the feed's end (one queue, `tail`).
 */
export class FanoutGroup implements FeedListener {
  readonly members = new Set<GroupMember>();
  private tail: Promise<void> = Promise.resolve();
  /** Live events not delivered yet, and whether a delivery of them is under way. */
  private incoming: StoredEvent[] = [];
  private draining = false;
  private closed = false;
  /** The API's own masking: a failure that is not one of ours goes out as "Unexpected error.". */
  private readonly maskError: ReturnType<typeof createMaskError>;
  private readonly execute: SubscriptionExecution;

  constructor(
    readonly plan: FanoutPlan,
    readonly feed: LiveFeed<unknown>,
    private readonly workspaces: RunWorkspaces,
    private readonly onEmpty: (group: FanoutGroup) => void,
  ) {
    this.maskError = createMaskError(plan.execution.contextValue.logger);
    this.execute = subscriptionExecution(plan.execution);
    feed.attach(this);
  }

  attach(member: GroupMember): void {
    this.members.add(member);
  }

  detach(member: GroupMember): void {
    this.members.delete(member);
    if (this.members.size > 0 || this.closed) return;
    this.closed = true;
    this.feed.detach(this);
    this.onEmpty(this);
  }

  event(event: StoredEvent): void {
    this.incoming.push(event);
    if (this.draining) return;
    this.draining = true;
    this.enqueue(() => this.drain());
  }

  /**
   * Delivers what came in, a batch at a time: the events that arrived within one turn of the event
   * loop go to each member in ONE socket write. A server that fell behind (several events of the
   * stream read at once) so catches up with one write per subscriber, not one per event; one that
   * keeps up pays a turn (setImmediate) of latency.
   */
  private async drain(): Promise<void> {
    try {
      await new Promise((resolve) => setImmediate(resolve));
      while (this.incoming.length > 0) {
        const events = this.incoming;
        this.incoming = [];
        const cursors: unknown[] = [];
        const frames: Buffer[] = [];
        for (const event of events) {
          const visible = await this.visible(event);
          if (visible === "unknown") {
            this.incoming = [];
            const message = "cannot tell whose run this event belongs to";
            return await this.finishAll({ reason: "failed", message });
          }
          if (!visible) continue;
          frames.push(await this.frameOf({ kind: "event", event }));
          cursors.push(this.plan.source.cursorOf(event));
        }
        if (frames.length === 0) continue;
        const batch = frameBatch(cursors, frames);
        let delivered = 0;
        for (const member of this.members) delivered += member.offer(batch);
        // Once per batch, not per delivery: a labelled counter costs more than a socket write's share.
        streamingMetrics.eventsDelivered.inc({ kind: this.plan.kind }, delivered);
      }
    } finally {
      this.draining = false;
    }
  }

  unavailable(error: Error, retryAfterMs: number): void {
    this.enqueue(async () => {
      const frame = await this.frameOf({ kind: "unavailable", message: error.message, retryAfterMs });
      for (const member of this.members) member.notice(frame);
    });
  }

  ended(end: FeedEnd): void {
    this.enqueue(() => this.finishAll(end));
  }

  private async finishAll(end: FeedEnd): Promise<void> {
    let frame: Buffer | null = null;
    if (end.reason !== "closing") {
      frame = await this.frameOf({ kind: "end", reason: end.reason, message: end.message });
      streamingMetrics.errors.inc({ kind: this.plan.kind, reason: end.reason }, this.members.size);
    }
    for (const member of [...this.members]) member.finish(frame, end);
  }

  private enqueue(work: () => Promise<void>): void {
    this.tail = this.tail.then(work).catch((error: unknown) => {
      this.plan.execution.contextValue.logger.error({ err: error }, "fan-out delivery failed");
      return this.finishAll({ reason: "failed", message: "the stream failed unexpectedly" });
    });
  }

  /** Whether the caller may see the event: `unknown` when the store cannot say now. */
  async visible(event: StoredEvent): Promise<boolean | "unknown"> {
    if (this.plan.workspaceId === null) return true;
    try {
      return (await this.workspaces.of(event)) === this.plan.workspaceId;
    } catch (error) {
      if (error instanceof EventStoreUnavailableError) return "unknown";
      throw error;
    }
  }

  /**
   * The SSE frame of an item for this subscription: executed as graphql-js executes each event of a
   * subscription (the item as root value), with the event's cursor in `extensions.cursor` and its
   * `id:` line. Failures other than GraphQLErrors (which carry their code) are not expected here.
   */
  async frameOf(item: StreamItem): Promise<Buffer> {
    const executed = await this.execute(item);
    const result = executed.errors
      ? {
          ...executed,
          errors: executed.errors.map((error) => this.maskError(error, UNEXPECTED_ERROR_MESSAGE)),
        }
      : executed;
    if (item.kind !== "event") return Buffer.from(`event: next\ndata: ${serialiseResult(result)}\n\n`);
    const cursor = this.plan.cursorText(this.plan.source.cursorOf(item.event));
    const withCursor = { ...result, extensions: { ...result.extensions, cursor } };
    return Buffer.from(`id: ${cursor}\nevent: next\ndata: ${serialiseResult(withCursor)}\n\n`);
  }
}
