/**
 * Token buckets by key (an API token's id), in this process's memory: with several API processes
 * each allows the full rate, and a restart refills every bucket. Good enough to stop a runaway
 * client; a shared limit would need the database or a proxy in front.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { level: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly size: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes `count` from the key's bucket: ok, or how long until there would be enough. */
  take(key: string, count = 1): { ok: true } | { ok: false; retryAfterMs: number } {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { level: this.size, at: now };
    bucket.level = Math.min(this.size, bucket.level + ((now - bucket.at) / 1_000) * this.perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (count > this.size) return { ok: false, retryAfterMs: Number.POSITIVE_INFINITY };
    if (bucket.level >= count) {
      bucket.level -= count;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((count - bucket.level) / this.perSecond) * 1_000) };
  }
}
