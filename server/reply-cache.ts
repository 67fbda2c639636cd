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
  reply: Buffer;
  cost: number;
}

/** Rough heap cost of one cached entry besides the reply bytes: key string, record, Map slot. */
const ENTRY_OVERHEAD = 160;

/**
 * Every entry lives the same time, so Map insertion order is expiry order: sweeping and evicting
 * both take from the front and cost only what they remove.
 */
export class ReplyCache {
  readonly ttlMs: number;
  readonly maxBytes: number;
  private readonly now: () => number;
  private readonly map = new Map<string, Cached>();
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
    return hit.reply;
  }

  set(ip: string, port: number, requestId: number, fingerprint: number, reply: Buffer): void {
    const k = key(ip, port, requestId);
    const old = this.map.get(k);
    if (old) {
      this.map.delete(k);
      this.bytes -= old.cost;
    }
    const cost = reply.length + k.length + ENTRY_OVERHEAD;
    this.map.set(k, { expiresAt: this.now() + this.ttlMs, fingerprint, reply, cost });
    this.bytes += cost;
    while (this.bytes > this.maxBytes) this.dropOldest();
  }

  /** Drops expired replies. */
  sweep(): number {
    const now = this.now();
    let dropped = 0;
    for (const [, c] of this.map) {
      if (c.expiresAt > now) break;
      this.dropOldest();
      dropped++;
    }
    return dropped;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  private dropOldest(): void {
    const first = this.map.entries().next();
    if (first.done) return;
    this.map.delete(first.value[0]);
    this.bytes -= first.value[1].cost;
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
