// Token-bucket throttle that caps how many bytes per second one upload connection may send.
import { setTimeout as sleep } from 'node:timers/promises';
import { P2PError } from '../protocol/errors';

/**
 * The bucket starts full with this many tokens so short transfers are not delayed, and refills at
 * the rate. An eighth of a second of data keeps the output smooth without long bursts; the floor
 * keeps tiny rates from stepping in single bytes.
 */
export function burstBytes(bytesPerSecond: number): number {
  return Math.max(16 * 1024, Math.ceil(bytesPerSecond / 8));
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly burst: number;

  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) {
      throw new P2PError('BAD_SETTING', `rate limit must be a positive number of bytes per second, got ${bytesPerSecond}`);
    }
    this.burst = burstBytes(bytesPerSecond);
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Largest amount worth asking for in one step, so a single read never overshoots a burst. */
  get stepBytes(): number {
    return this.burst;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.bytesPerSecond) / 1000);
    this.last = t;
  }

  /**
   * Spends `n` tokens, waiting until the bucket is out of debt. Letting the balance go negative
   * (instead of waiting for n tokens first) keeps the long-run rate exact for any step size.
   * Rejects with the signal's reason (an AbortError) when aborted while waiting.
   */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    this.refill();
    this.tokens -= n;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens * 1000) / this.bytesPerSecond;
    await sleep(Math.ceil(waitMs), undefined, { signal });
  }
}
