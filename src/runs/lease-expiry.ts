/** The read-model fields that say when the lease of the worker holding a run runs out. */
export interface LeaseFields {
  workerId: string | null;
  leaseExpiresAt: Date | string | null;
  lease: { workerId: string; expiresAt: Date } | null;
}

/**
 * Heartbeats extend the lease in run_leases, outside the stream; the claim's expiry is the fallback
 * while the worker holding the run has not sent one. Null when nobody holds the run.
 */
export function leaseExpiry(row: LeaseFields): string | null {
  const expiresAt =
    row.lease && row.lease.workerId === row.workerId ? row.lease.expiresAt : (row.leaseExpiresAt ?? null);
  if (expiresAt === null) return null;
  return typeof expiresAt === "string" ? expiresAt : expiresAt.toISOString();
}
