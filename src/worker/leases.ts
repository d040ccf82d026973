import type { PrismaClient } from "../db/prisma.js";

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

  /**
   * Writes this worker's lease row only where none exists (e.g. after a read model rebuild): a row
   * another worker wrote, say the one that just took the run over, is never overwritten.
   */
  async restore(runId: string, now = new Date()): Promise<void> {
    const expiresAt = new Date(now.getTime() + this.leaseMs);
    await this.prisma.runLease.createMany({
      data: [{ runId, workerId: this.workerId, expiresAt, heartbeatAt: now }],
      skipDuplicates: true,
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
