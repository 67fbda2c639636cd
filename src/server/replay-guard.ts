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
  /** Where this source's window starts in the shared pool: bit (id mod ID_WINDOW) set means that id, within ID_WINDOW of top, was carried out. */
  slot: number;
  /** When this memory may end: REPLAY_MEMORY_MS after the source's last R/T. */
  until: number;
}

/**
 * A sliding window of request ids per (ip, port), as IPsec's anti-replay window. Memory per source is
 * fixed (a 128-byte bitmap and a record), sources are capped, and a source is forgotten once its
 * cookies have all expired, so the whole stays bounded whatever the traffic. The bitmaps share one
 * pool, reused through a free list: a typed array each cost 600 bytes a source instead of 128.
 */
export class ReplayGuard {
  readonly maxSources: number;
  private readonly now: () => number;
  private readonly sources = new Map<string, SourceIds>();
  /** Every source's bitmap, WORDS words each; grows by doubling up to maxSources of them. */
  private pool = new Int32Array(WORDS * 64);
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

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
    if (behind === 0 || (behind < ID_WINDOW && (this.pool[s.slot + ((id >>> 5) % WORDS)] & (1 << (id & 31))) !== 0)) return 'seen';
    // Ids are u32 and wrap: anything within half the space ahead of top is newer.
    if (behind >= 0x8000_0000) return 'fresh';
    return behind < ID_WINDOW ? 'fresh' : 'stale';
  }

  /** Notes that request `id` from `ip`:`port` was carried out (after a 'fresh' verdict). */
  record(ip: string, port: number, id: number): void {
    const k = key(ip, port);
    const now = this.now();
    let s = this.sources.get(k);
    if (s && s.until <= now) {
      this.pool.fill(0, s.slot, s.slot + WORDS); // an ended memory starts over
      s.top = id >>> 0;
    }
    if (!s) {
      s = { top: id >>> 0, slot: this.takeSlot(), until: 0 };
      this.sources.set(k, s);
    } else {
      const ahead = (id - s.top) >>> 0;
      if (ahead > 0 && ahead < 0x8000_0000) {
        // Slide: the ids between the old top and the new one were never carried out.
        if (ahead >= ID_WINDOW) this.pool.fill(0, s.slot, s.slot + WORDS);
        else for (let i = 1; i <= ahead; i++) this.clearBit(s.slot, (s.top + i) >>> 0);
        s.top = id >>> 0;
      }
    }
    const bit = id >>> 0;
    this.pool[s.slot + ((bit >>> 5) % WORDS)] |= 1 << (bit & 31);
    s.until = now + REPLAY_MEMORY_MS;
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
      this.freeSlots.push(s.slot);
      dropped++;
    }
    return dropped;
  }

  clear(): void {
    this.sources.clear();
    this.freeSlots.length = 0;
    this.nextSlot = 0;
    this.pool = new Int32Array(WORDS * 64);
  }

  /** A zeroed bitmap's offset in the pool. */
  private takeSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) {
      this.pool.fill(0, reused, reused + WORDS);
      return reused;
    }
    const slot = this.nextSlot;
    this.nextSlot += WORDS;
    if (this.nextSlot > this.pool.length) {
      const grown = new Int32Array(Math.min(this.pool.length * 2, this.maxSources * WORDS));
      grown.set(this.pool);
      this.pool = grown;
    }
    return slot;
  }

  private clearBit(slot: number, id: number): void {
    this.pool[slot + ((id >>> 5) % WORDS)] &= ~(1 << (id & 31));
  }
}

function key(ip: string, port: number): string {
  return `${ip}|${port}`;
}
