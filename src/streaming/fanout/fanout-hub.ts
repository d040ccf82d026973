import type { StreamHub } from "../live-feed.js";
import type { RunWorkspaces } from "../run-workspaces.js";
import { FanoutGroup } from "./fanout-group.js";
import type { FanoutPlan } from "./fanout-plan.js";

export interface FanoutLimits {
  maxBufferedEvents: number;
  /** Bytes written to one subscriber and not yet taken by its client. */
  maxBufferedBytes: number;
  /** The same, summed over the process. */
  maxBufferedBytesTotal: number;
  maxDurationMs: number;
  keepAliveMs: number;
  reconnectMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

/** What the hub needs of a subscriber for its shared chores. */
export interface HubMember {
  /** Writes a keep-alive comment when nothing was written since the last tick. */
  keepAlive(): void;
}

/**
 * The SSE fan-out of one process: its groups by key (one execution per event and group), one
 * keep-alive timer for every subscriber, and the count of bytes waiting in their sockets.
 */
export class FanoutHub {
  private readonly groups = new Map<string, FanoutGroup>();
  private readonly members = new Set<HubMember>();
  private keepAliveTimer: NodeJS.Timeout | undefined;
  /** Bytes written to subscribers and not yet taken by their clients, all together. */
  bufferedBytes = 0;

  constructor(
    readonly streams: StreamHub,
    readonly workspaces: RunWorkspaces,
    readonly limits: FanoutLimits,
  ) {}

  /** The plan's group, created (and attached to its stream's live feed) when it has none. */
  group(plan: FanoutPlan): FanoutGroup {
    const existing = this.groups.get(plan.groupKey);
    if (existing && !existing.feed.ended) return existing;
    const group = new FanoutGroup(plan, this.streams.feed(plan.source), this.workspaces, (empty) => {
      if (this.groups.get(plan.groupKey) === empty) this.groups.delete(plan.groupKey);
    });
    this.groups.set(plan.groupKey, group);
    return group;
  }

  get groupCount(): number {
    return this.groups.size;
  }

  join(member: HubMember): void {
    this.members.add(member);
    this.keepAliveTimer ??= setInterval(() => {
      for (const each of this.members) each.keepAlive();
    }, this.limits.keepAliveMs).unref();
  }

  leave(member: HubMember): void {
    this.members.delete(member);
    if (this.members.size === 0) {
      clearInterval(this.keepAliveTimer);
      this.keepAliveTimer = undefined;
    }
  }
}
