import type { PrismaClient } from "../db/prisma.js";

/** The lease fields of a run row of the read model, with its run_leases row when there is one. */
export interface LeaseView {
  workerId: string | null;
  leaseExpiresAt: Date | null;
  lease: { workerId: string; expiresAt: Date } | null;
}

/**
 * When the lease of the worker holding a run runs out: the later of the lease granted with its claim
 * (runs.lease_expires_at) and its heartbeats (run_leases, counted only when written by that worker).
 * Null when nobody holds the run or nothing says when its lease ends.
 */
export function effectiveLeaseExpiry(view: LeaseView): Date | null {
  if (view.workerId === null) return null;
  const times = [view.leaseExpiresAt, view.lease?.workerId === view.workerId ? view.lease.expiresAt : null];
  const known = times.filter((time): time is Date => time !== null).map((time) => time.getTime());
  return known.length > 0 ? new Date(Math.max(...known)) : null;
}

export function isLeaseExpired(view: LeaseView, now: Date): boolean {
  if (view.workerId === null) return false;
  const expiry = effectiveLeaseExpiry(view);
  return expiry === null || expiry.getTime() <= now.getTime();
}

/**
 * A worker's run_leases rows. Not event-sourced: heartbeats would flood the run's stream. Who holds
 * a run is decided by the stream (ClaimRun); these rows only say the holder is still alive.
 */
export class LeaseBook {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly workerId: string,
    private readonly leaseMs: number,
  ) {}

  /** Writes this worker's lease of a run it holds (after a claim, or when the row went missing). */
  async hold(runId: string, now = new Date()): Promise<void> {
    const expiresAt = new Date(now.getTime() + this.leaseMs);
    await this.prisma.runLease.upsert({
      where: { runId },
      create: { runId, workerId: this.workerId, expiresAt, heartbeatAt: now },
      update: { workerId: this.workerId, expiresAt, heartbeatAt: now },
    });
  }

  /** Moves this worker's lease forward; false when its row is gone or another worker's. */
  async renew(runId: string, now = new Date()): Promise<boolean> {
    const { count } = await this.prisma.runLease.updateMany({
      where: { runId, workerId: this.workerId },
      data: { expiresAt: new Date(now.getTime() + this.leaseMs), heartbeatAt: now },
    });
    return count > 0;
  }

  /** Drops this worker's lease row once it is done with the run (never another worker's). */
  async release(runId: string): Promise<void> {
    await this.prisma.runLease.deleteMany({ where: { runId, workerId: this.workerId } });
  }
}
