// Per-source token buckets: caps the work and the reply traffic any one address (or IPv6 /64) can cause.
import { sourceKey } from '../protocol/address-text';

export interface RateLimitOptions {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: the burst a quiet source may send at once. */
  burst: number;
  /** Buckets tracked at once; sources beyond share one overflow bucket. Default 100 000. */
  maxSources?: number;
  now?: () => number;
}

/** 'notify': over the limit and due a RATE_LIMITED notice; 'drop': over the limit, stay silent. */
export type RateDecision = 'ok' | 'notify' | 'drop';

interface Bucket {
  tokens: number;
  at: number;
  /** When this source was last told it is rate limited: one notice a second, not one per datagram. */
  noticeAt: number;
}

const NOTICE_INTERVAL_MS = 1000;

export class RateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  readonly maxSources: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly overflow: Bucket;

  constructor(opts: RateLimitOptions) {
    this.perSecond = opts.perSecond;
    this.burst = opts.burst;
    this.maxSources = opts.maxSources ?? 100_000;
    this.now = opts.now ?? Date.now;
    this.overflow = { tokens: this.burst, at: this.now(), noticeAt: -Infinity };
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Spends one token of `ip`'s bucket. */
  take(ip: string): RateDecision {
    const k = sourceKey(ip);
    const now = this.now();
    let b = this.buckets.get(k);
    if (!b) {
      if (this.buckets.size >= this.maxSources) b = this.overflow;
      else {
        b = { tokens: this.burst, at: now, noticeAt: -Infinity };
        this.buckets.set(k, b);
      }
    }
    if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.perSecond) / 1000);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 'ok';
    }
    if (now - b.noticeAt >= NOTICE_INTERVAL_MS) {
      b.noticeAt = now;
      return 'notify';
    }
    return 'drop';
  }

  /** Forgets buckets that have refilled: such a source is indistinguishable from a new one. */
  sweep(): number {
    const now = this.now();
    const full = (this.burst * 1000) / this.perSecond;
    let dropped = 0;
    for (const [k, b] of this.buckets) {
      if (now - b.at >= full - ((b.tokens * 1000) / this.perSecond) && now - b.noticeAt >= NOTICE_INTERVAL_MS) {
        this.buckets.delete(k);
        dropped++;
      }
    }
    return dropped;
  }

  clear(): void {
    this.buckets.clear();
  }
}
