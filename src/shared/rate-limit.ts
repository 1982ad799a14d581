/**
 * A keyed token bucket for request rate limits (join-token attestation per
 * client address, ACME per account and per address). In memory: limits
 * guard one process against a noisy caller, they are not a quota ledger.
 * On a cluster each node keeps its own, so N nodes allow N times a limit
 * (README, "Join tokens": why that is the choice for join tokens).
 */

export interface RateLimit {
  /** Requests allowed in a burst. */
  readonly burst: number;
  /** Sustained requests per second once the burst is spent. */
  readonly perSecond: number;
}

export type RateVerdict = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Buckets are forgotten once full again, and the table never holds more than `maxKeys`. */
export class RateLimiter {
  private readonly limit: RateLimit;
  private readonly maxKeys: number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(limit: RateLimit, options: { maxKeys?: number } = {}) {
    if (!(limit.burst >= 1) || !(limit.perSecond > 0)) throw new RangeError('a rate limit needs burst >= 1 and perSecond > 0');
    this.limit = limit;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /** Spends one token of `key`'s bucket at `now` (ms), or says how long until one is free. */
  take(key: string, now: number): RateVerdict {
    const bucket = this.refill(key, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    const waitMs = ((1 - bucket.tokens) / this.limit.perSecond) * 1000;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  private refill(key: string, now: number): Bucket {
    const existing = this.buckets.get(key);
    if (existing !== undefined) {
      const elapsedSeconds = Math.max(0, now - existing.updatedAt) / 1000;
      existing.tokens = Math.min(this.limit.burst, existing.tokens + elapsedSeconds * this.limit.perSecond);
      existing.updatedAt = now;
      return existing;
    }
    if (this.buckets.size >= this.maxKeys) this.evictFull(now);
    const bucket = { tokens: this.limit.burst, updatedAt: now };
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Drops buckets that have refilled (they hold no state worth keeping); if none has, the oldest. */
  private evictFull(now: number): void {
    const fullAfterMs = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt >= fullAfterMs) this.buckets.delete(key);
    }
    if (this.buckets.size >= this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done !== true) this.buckets.delete(oldest.value);
    }
  }
}
