/**
 * The lease rule, in one place: when the lease of the worker holding a run runs out. The claim grants
 * a lease (RunClaimed, in the stream); the holder's heartbeats extend it in run_leases, outside the
 * stream. The lease lasts until the later of the two. The decider applies it to ClaimRun and
 * FailStaleRun; the worker and the sweeper apply it to read-model rows to pick their candidates.
 */

type Instant = Date | string | null;

const millis = (instant: Instant): number | null => {
  if (instant === null) return null;
  const time = instant instanceof Date ? instant.getTime() : Date.parse(instant);
  return Number.isNaN(time) ? null : time;
};

/** The later of the claim's expiry and the holder's heartbeat expiry; null when neither is known. */
export function leaseExpiry(claimExpiresAt: Instant, heartbeatExpiresAt: Instant): Date | null {
  const known = [millis(claimExpiresAt), millis(heartbeatExpiresAt)].filter((time) => time !== null);
  return known.length > 0 ? new Date(Math.max(...known)) : null;
}

/** A lease nothing says is alive (no expiry known) counts as expired. */
export function isLeaseExpired(expiry: Date | null, now: Date | string): boolean {
  return expiry === null || expiry.getTime() <= (millis(now) ?? Number.NaN);
}

/** The lease fields of a run row of the read model, with its run_leases row when there is one. */
export interface LeaseView {
  workerId: string | null;
  leaseExpiresAt: Date | null;
  lease: { workerId: string; expiresAt: Date } | null;
}

/** A run_leases row counts only when the worker holding the run wrote it. */
export const holderHeartbeatExpiry = (view: LeaseView): Date | null =>
  view.workerId !== null && view.lease?.workerId === view.workerId ? view.lease.expiresAt : null;

/** `leaseExpiry` of a read-model row; null when nobody holds the run. */
export const rowLeaseExpiry = (view: LeaseView): Date | null =>
  view.workerId === null ? null : leaseExpiry(view.leaseExpiresAt, holderHeartbeatExpiry(view));
