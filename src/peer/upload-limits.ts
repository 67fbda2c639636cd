// Per-address fairness for the content server: how many connections one address holds and how many requests it may make.
import { sourceKey } from '../protocol/address-text';

export interface UploadLimitOptions {
  /** Connections one address (IPv6: one /64) may hold open at once. */
  maxConnectionsPerAddress: number;
  /** D requests one address may make per second, all its connections together; a burst of as many is allowed. */
  requestsPerSecond: number;
  now?: () => number;
}

interface AddressState {
  connections: number;
  tokens: number;
  last: number;
}

/**
 * Counts per address rather than per connection, so opening more connections buys an attacker
 * nothing. A request over budget is delayed, never refused: an honest burst only waits.
 */
export class UploadLimits {
  private readonly byAddress = new Map<string, AddressState>();
  private readonly now: () => number;

  constructor(private readonly opts: UploadLimitOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Takes a connection slot for `ip`; false when the address already holds its share. */
  admit(ip: string): boolean {
    const s = this.state(sourceKey(ip));
    if (s.connections >= this.opts.maxConnectionsPerAddress) return false;
    s.connections++;
    return true;
  }

  release(ip: string): void {
    const key = sourceKey(ip);
    const s = this.byAddress.get(key);
    if (!s) return;
    s.connections = Math.max(0, s.connections - 1);
    this.forgetIfRested(key, s);
  }

  /** Counts one request of `ip`; returns how many ms it must wait before being served (0 = now). */
  takeRequest(ip: string): number {
    const s = this.state(sourceKey(ip));
    const rate = this.opts.requestsPerSecond;
    const t = this.now();
    s.tokens = Math.min(rate, s.tokens + ((t - s.last) * rate) / 1000);
    s.last = t;
    s.tokens -= 1;
    // Tokens may go negative: each waiting request holds its place in line.
    return s.tokens >= 0 ? 0 : Math.ceil((-s.tokens * 1000) / rate);
  }

  /**
   * An address keeps its state until it has no connection and its request budget has refilled:
   * forgetting sooner would hand a fresh burst to whoever reconnects.
   */
  private forgetIfRested(key: string, s: AddressState): void {
    const rate = this.opts.requestsPerSecond;
    if (s.connections === 0 && s.tokens + ((this.now() - s.last) * rate) / 1000 >= rate) this.byAddress.delete(key);
  }

  private state(key: string): AddressState {
    let s = this.byAddress.get(key);
    if (!s) {
      // Bounded: addresses that left and rested are forgotten before a new one is tracked.
      if (this.byAddress.size >= 4096) for (const [k, old] of this.byAddress) this.forgetIfRested(k, old);
      s = { connections: 0, tokens: this.opts.requestsPerSecond, last: this.now() };
      this.byAddress.set(key, s);
    }
    return s;
  }
}
