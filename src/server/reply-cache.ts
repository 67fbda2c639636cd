// Remembers each reply by (source ip, source port, request id) so a retried request gets the same reply, not a second execution.

export interface ReplyCacheOptions {
  /** How long a reply is kept. Default 30 000 ms (docs/protocol.md). */
  ttlMs?: number;
  /** Memory bound: reply bytes plus a per-entry overhead estimate. Default 32 MiB. */
  maxBytes?: number;
  now?: () => number;
}

interface Cached {
  expiresAt: number;
  /** Fingerprint of the request without its cookie: the same id reused for another request is a miss. */
  fingerprint: number;
  /** The reply's bytes as a latin1 string: plain heap memory, no backing store for the GC to track. */
  reply: string;
  cost: number;
}

/** Rough heap cost of one cached entry besides the reply bytes: key string, record, Map slot. */
const ENTRY_OVERHEAD = 160;

/**
 * Every entry lives the same time, so insertion order is expiry order: sweeping and evicting both
 * take from the front of `order` and cost only what they remove. The order is kept in an array with
 * a moving head rather than read from the Map, because V8 leaves a hole for each entry deleted from
 * a Map's front and walks all of them on every entries().next(): evicting that way turned
 * quadratic once the cache was full (1 us per set while filling, over 100 us once full).
 */
export class ReplyCache {
  readonly ttlMs: number;
  readonly maxBytes: number;
  private readonly now: () => number;
  private readonly map = new Map<string, Cached>();
  /** Insertion order; a record whose key was set again since is stale and skipped. */
  private order: { key: string; entry: Cached }[] = [];
  private head = 0;
  private bytes = 0;

  constructor(opts: ReplyCacheOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.map.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  get(ip: string, port: number, requestId: number, fingerprint: number): Buffer | undefined {
    const hit = this.map.get(key(ip, port, requestId));
    if (!hit || hit.expiresAt <= this.now() || hit.fingerprint !== fingerprint) return undefined;
    return Buffer.from(hit.reply, 'latin1');
  }

  set(ip: string, port: number, requestId: number, fingerprint: number, reply: Buffer): void {
    const k = key(ip, port, requestId);
    const old = this.map.get(k);
    if (old) {
      this.map.delete(k);
      this.bytes -= old.cost;
    }
    const cost = reply.length + k.length + ENTRY_OVERHEAD;
    // Kept as a string, not the Buffer: a small reply is usually a slice of Node's shared 8 KiB pool,
    // which would pin whole pool blocks, and a Buffer of its own costs the GC a backing store each
    // (hundreds of thousands of them live for 30 s under load).
    const entry: Cached = { expiresAt: this.now() + this.ttlMs, fingerprint, reply: reply.toString('latin1'), cost };
    this.map.set(k, entry);
    this.order.push({ key: k, entry });
    this.bytes += cost;
    while (this.bytes > this.maxBytes && this.dropOldest());
  }

  /** Drops expired replies. */
  sweep(): number {
    const now = this.now();
    let dropped = 0;
    for (let live = this.oldestLive(); live && live.entry.expiresAt <= now; live = this.oldestLive()) {
      this.remove(live.key, live.entry);
      dropped++;
    }
    return dropped;
  }

  clear(): void {
    this.map.clear();
    this.order = [];
    this.head = 0;
    this.bytes = 0;
  }

  /** Removes the oldest live entry; false when there is none. */
  private dropOldest(): boolean {
    const live = this.oldestLive();
    if (!live) return false;
    this.remove(live.key, live.entry);
    return true;
  }

  /** The oldest record still in the map, skipping (and forgetting) stale ones; it stays at the head. */
  private oldestLive(): { key: string; entry: Cached } | undefined {
    while (this.head < this.order.length) {
      const record = this.order[this.head];
      if (this.map.get(record.key) === record.entry) return record;
      this.advance();
    }
    return undefined;
  }

  private remove(key: string, entry: Cached): void {
    this.map.delete(key);
    this.bytes -= entry.cost;
    this.advance();
  }

  private advance(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head); // compact: amortised O(1) per record
      this.head = 0;
    }
  }
}

function key(ip: string, port: number, requestId: number): string {
  return `${ip}|${port}|${requestId}`;
}

/**
 * FNV-1a over a request minus its cookie bytes [skipFrom, skipTo): a client that re-handshakes
 * resends the same request with a new cookie, and that must still hit.
 */
export function requestFingerprint(buf: Buffer, skipFrom: number, skipTo: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) {
    if (i === skipFrom) i = skipTo;
    if (i >= buf.length) break;
    h ^= buf[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
