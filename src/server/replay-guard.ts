// Remembers which R/T request ids each source has had carried out, for as long as any cookie it used is accepted, so a captured request runs once.
import { COOKIE_WINDOW_SECONDS } from './cookies';

/** Ids remembered behind a source's highest one; an older id is refused. Clients count up and keep few requests in flight. */
export const ID_WINDOW = 1024;
const WORDS = ID_WINDOW / 32;

/**
 * How long a source is remembered after its last R/T: a cookie is accepted for at most two windows
 * from its issue, so any cookie the source used is dead by then, and so is every replay of its requests.
 */
export const REPLAY_MEMORY_MS = 2 * COOKIE_WINDOW_SECONDS * 1000;

export interface ReplayGuardOptions {
  /** Sources remembered at once; one more is refused (BUSY) until a memory ends. Default 131 072. */
  maxSources?: number;
  now?: () => number;
}

/** 'fresh': carry it out (and `record` it); 'seen': this source already had it carried out; 'stale': older than the window; 'full': no room to remember a new source. */
export type ReplayVerdict = 'fresh' | 'seen' | 'stale' | 'full';

interface SourceIds {
  /** The highest id carried out (u32). */
  top: number;
  /** Bit (id mod ID_WINDOW) set: that id, within ID_WINDOW of top, was carried out. */
  bits: Int32Array;
  /** When this memory may end: REPLAY_MEMORY_MS after the source's last R/T. */
  until: number;
}

/**
 * A sliding window of request ids per (ip, port), as IPsec's anti-replay window. Memory per source is
 * fixed (a 128-byte bitmap and a record), sources are capped, and a source is forgotten once its
 * cookies have all expired, so the whole stays bounded whatever the traffic.
 */
export class ReplayGuard {
  readonly maxSources: number;
  private readonly now: () => number;
  private readonly sources = new Map<string, SourceIds>();

  constructor(opts: ReplayGuardOptions = {}) {
    this.maxSources = opts.maxSources ?? 131_072;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.sources.size;
  }

  /** Whether request `id` from `ip`:`port` may be carried out. */
  check(ip: string, port: number, id: number): ReplayVerdict {
    const s = this.sources.get(key(ip, port));
    if (!s || s.until <= this.now()) return this.sources.size >= this.maxSources && !s ? 'full' : 'fresh';
    const behind = (s.top - id) >>> 0;
    if (behind === 0 || (behind < ID_WINDOW && (s.bits[(id >>> 5) % WORDS] & (1 << (id & 31))) !== 0)) return 'seen';
    // Ids are u32 and wrap: anything within half the space ahead of top is newer.
    if (behind >= 0x8000_0000) return 'fresh';
    return behind < ID_WINDOW ? 'fresh' : 'stale';
  }

  /** Notes that request `id` from `ip`:`port` was carried out (after a 'fresh' verdict). */
  record(ip: string, port: number, id: number): void {
    const k = key(ip, port);
    const now = this.now();
    let s = this.sources.get(k);
    if (s && s.until <= now) s = undefined;
    if (!s) {
      s = { top: id >>> 0, bits: new Int32Array(WORDS), until: 0 };
    } else {
      const ahead = (id - s.top) >>> 0;
      if (ahead > 0 && ahead < 0x8000_0000) {
        // Slide: the ids between the old top and the new one were never carried out.
        if (ahead >= ID_WINDOW) s.bits.fill(0);
        else for (let i = 1; i <= ahead; i++) clearBit(s.bits, (s.top + i) >>> 0);
        s.top = id >>> 0;
      }
    }
    setBit(s.bits, id >>> 0);
    s.until = now + REPLAY_MEMORY_MS;
    this.sources.set(k, s);
  }

  /**
   * Forgets sources whose every cookie has expired. A walk of all of them (at most maxSources, once a
   * sweep interval) rather than keeping them in use order, which would cost every R/T a Map re-insert.
   */
  sweep(): number {
    const now = this.now();
    let dropped = 0;
    for (const [k, s] of this.sources) {
      if (s.until > now) continue;
      this.sources.delete(k);
      dropped++;
    }
    return dropped;
  }

  clear(): void {
    this.sources.clear();
  }
}

function key(ip: string, port: number): string {
  return `${ip}|${port}`;
}

function setBit(bits: Int32Array, id: number): void {
  bits[(id >>> 5) % WORDS] |= 1 << (id & 31);
}

function clearBit(bits: Int32Array, id: number): void {
  bits[(id >>> 5) % WORDS] &= ~(1 << (id & 31));
}
