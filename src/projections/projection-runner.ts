import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { Logger } from "../config/logger.js";
import type { PrismaClient } from "../db/prisma.js";
import type { EventStore, StoredEvent } from "../event-store/event-store.js";
import {
  ensureCheckpoint,
  lockCheckpoint,
  normalizeCheckpoint,
  readCheckpoint,
  START,
  saveCheckpoint,
} from "./checkpoints.js";
import type { Projection } from "./projection.js";
import { transaction } from "./sql.js";
import { Notifier, PositionWaiters } from "./waiters.js";

/** Events per transaction: enough to amortise round trips, few enough to keep transactions short. */
const BATCH_SIZE = 500;
/** Events read ahead of the applier before the subscription is made to wait. */
const MAX_BUFFERED = 5_000;
const MAX_BACKOFF_MS = 5_000;

export interface RunnerDeps {
  store: EventStore;
  prisma: PrismaClient;
  /** The application's `pg` pool: when given, batches are written through it (lower latency). */
  pool?: pg.Pool;
  logger: Logger;
  /** Called before following when the stored version is older than the projection's (a rebuild). */
  onVersionMismatch?: (projection: Projection) => Promise<void>;
}

/** The checkpoint row belongs to another version of the projection; following stops until it is rebuilt. */
export class ProjectionVersionError extends Error {
  override name = "ProjectionVersionError";
}

/**
 * Follows the event store for one projection. Each batch is applied in one transaction that first
 * locks the checkpoint row and skips what another process already applied: several processes can run
 * this against one database and every event is applied exactly once.
 */
export class ProjectionRunner {
  /** Checkpoint as last seen by this process; null until read. */
  position: string | null = null;
  private readonly waiters = new PositionWaiters((position) => this.reached(position));
  private controller: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;

  constructor(
    readonly projection: Projection,
    private readonly deps: RunnerDeps,
  ) {}

  reached(position: string): boolean {
    return this.position !== null && this.position >= position;
  }

  start(): void {
    if (this.loop) return;
    this.stopped = false;
    this.loop = this.runForever();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    await this.loop;
    this.loop = null;
  }

  async waitFor(position: string, timeoutMs: number): Promise<void> {
    if (this.reached(position)) return;
    // Not following (or not yet): the database may already be there thanks to another process.
    if (!this.loop || this.position === null) await this.refresh();
    const label = this.projection.name;
    if (this.loop) return this.waiters.wait(position, timeoutMs, label);
    // Without a running follower in this process, poll: another process moves the checkpoint.
    const deadline = Date.now() + timeoutMs;
    while (!this.reached(position)) {
      if (Date.now() >= deadline) return this.waiters.wait(position, 0, label);
      await sleep(Math.min(20, deadline - Date.now()));
      await this.refresh();
    }
  }

  /** Re-reads the checkpoint from the database. */
  async refresh(): Promise<string | null> {
    const checkpoint = await readCheckpoint(this.deps.prisma, this.projection.name);
    // A checkpoint of another version belongs to a read model about to be rebuilt: it proves nothing.
    if (checkpoint?.version === this.projection.version) this.advance(checkpoint.position);
    return this.position;
  }

  private advance(position: string): void {
    if (this.position === null || position > this.position) this.position = position;
    this.waiters.check();
  }

  private async runForever(): Promise<void> {
    let backoffMs = 100;
    while (!this.stopped) {
      const controller = new AbortController();
      this.controller = controller;
      try {
        const after = await this.prepare();
        if (this.stopped) break;
        backoffMs = 100;
        await this.follow(after, controller.signal);
      } catch (error) {
        if (this.stopped) break;
        this.deps.logger.error(
          { err: error, projection: this.projection.name, retryInMs: backoffMs },
          "projection failed; restarting from its checkpoint",
        );
        controller.abort();
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** Makes sure the checkpoint exists and matches this version; returns where to follow from. */
  private async prepare(): Promise<string> {
    const { prisma } = this.deps;
    const { name, version } = this.projection;
    await ensureCheckpoint(prisma, name, version);
    await normalizeCheckpoint(prisma, this.deps.store, name);
    let checkpoint = await readCheckpoint(prisma, name);
    // Only an older stored version is rebuilt: a newer one belongs to a newer deployment, not to us.
    if (checkpoint && checkpoint.version < version && this.deps.onVersionMismatch) {
      await this.deps.onVersionMismatch(this.projection);
      checkpoint = await readCheckpoint(prisma, name);
    }
    if (!checkpoint) throw new Error(`checkpoint of projection ${name} is missing`);
    if (checkpoint.version !== version) {
      throw new ProjectionVersionError(
        `projection ${name} is stored at version ${checkpoint.version}, this process runs version ${version}`,
      );
    }
    this.advance(checkpoint.position);
    return checkpoint.position;
  }

  /**
   * The subscription fills a buffer while the applier drains it: one event arriving alone is applied
   * at once (read-your-writes in a few ms), a burst is applied in batches.
   */
  private async follow(after: string, outer: AbortSignal): Promise<void> {
    // Ends the subscription when following ends for any reason, a failed batch included.
    const controller = new AbortController();
    const signal = controller.signal;
    const abort = () => controller.abort();
    outer.addEventListener("abort", abort, { once: true });
    if (outer.aborted) abort();
    const buffer: StoredEvent[] = [];
    const arrived = new Notifier();
    const drained = new Notifier();
    let finished = false;
    let failure: unknown = null;
    const pump = (async () => {
      const events = this.deps.store.subscribeToAll({
        after: after === START ? null : after,
        streamPrefix: this.projection.streamPrefix,
        signal,
      });
      for await (const event of events) {
        buffer.push(event);
        arrived.notify();
        while (buffer.length >= MAX_BUFFERED && !signal.aborted) await drained.wait();
      }
    })()
      .catch((error) => {
        failure = error;
      })
      .finally(() => {
        finished = true;
        arrived.notify();
      });
    try {
      for (;;) {
        if (failure) throw failure;
        if (buffer.length === 0) {
          if (finished || signal.aborted) return;
          await arrived.wait();
          continue;
        }
        const batch = buffer.splice(0, BATCH_SIZE);
        drained.notify();
        await this.applyBatch(batch);
      }
    } finally {
      outer.removeEventListener("abort", abort);
      controller.abort();
      drained.notify();
      await pump;
    }
  }

  private async applyBatch(batch: StoredEvent[]): Promise<void> {
    const { projection } = this;
    // Read models and their checkpoint commit together and are derived from the (durably written)
    // event store: a crash that loses the last async commits only means those events are applied
    // again. Not waiting for the WAL flush takes a disk flush off every mutation's read-your-writes.
    const position = await transaction(
      this.deps,
      async (tx) => {
        const checkpoint = await lockCheckpoint(tx, projection.name);
        if (!checkpoint) throw new Error(`checkpoint of projection ${projection.name} is missing`);
        if (checkpoint.version !== projection.version) {
          throw new ProjectionVersionError(
            `projection ${projection.name} was moved to version ${checkpoint.version} by another process`,
          );
        }
        // Another process may have applied part of the batch already; the rest follows its checkpoint.
        const fresh = batch.filter((event) => event.position > checkpoint.position);
        const last = fresh.at(-1);
        if (!last) return checkpoint.position;
        await projection.apply(tx, "public", fresh);
        await saveCheckpoint(tx, { ...checkpoint, position: last.position });
        return last.position;
      },
      { asyncCommit: true },
    );
    this.advance(position);
  }
}
