import type { PrismaClient } from "../db/prisma.js";
import { isLeaseExpired, leaseExpiry } from "../runs/lease.js";

export interface ClaimableRun {
  id: string;
  /** Revision of the run's stream as the read model saw it: the claim's expected revision. */
  revision: number;
  /** Held by a worker whose lease expired (isLeaseExpired of runs/lease.ts): claiming it is a takeover. */
  takeover: boolean;
}

export interface ClaimableQuery {
  now: Date;
  limit: number;
  maxTakeovers: number;
  /** Runs this worker is executing already. */
  exclude: string[];
}

/**
 * Active runs (PENDING or RUNNING) nobody holds, or whose holder's lease expired (the rule of
 * runs/lease.ts, written here in SQL to filter; the decider applies the rule itself) and that may
 * still be taken over; oldest first. Read from the read model, so the answer can be stale: the
 * claim's expected revision makes that harmless (the claim conflicts and appends nothing).
 * One SQL statement, so held runs with live leases never crowd the claimable ones out of `limit`.
 */
export async function findClaimableRuns(
  prisma: PrismaClient,
  query: ClaimableQuery,
): Promise<ClaimableRun[]> {
  const rows = await prisma.$queryRaw<
    {
      id: string;
      revision: number;
      worker_id: string | null;
      lease_expires_at: Date | null;
      heartbeat_expires_at: Date | null;
    }[]
  >`
    SELECT r.id, r.revision, r.worker_id, r.lease_expires_at, l.expires_at AS heartbeat_expires_at
    FROM runs r
    LEFT JOIN run_leases l ON l.run_id = r.id AND l.worker_id = r.worker_id
    WHERE r.status IN ('PENDING', 'RUNNING')
      AND NOT (r.id = ANY(${query.exclude}::text[]))
      AND (
        r.worker_id IS NULL
        OR (
          r.takeovers < ${query.maxTakeovers}
          AND COALESCE(GREATEST(r.lease_expires_at, l.expires_at), '-infinity') <= ${query.now}
        )
      )
    ORDER BY r.created_at
    LIMIT ${query.limit}`;
  return rows.map((row) => ({
    id: row.id,
    revision: Number(row.revision),
    // The SQL above only narrows the candidates; whether a lease ran out is the rule's to say.
    takeover:
      row.worker_id !== null &&
      isLeaseExpired(leaseExpiry(row.lease_expires_at, row.heartbeat_expires_at), query.now),
  }));
}
