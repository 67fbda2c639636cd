// Stateless handshake cookies (docs/protocol.md, H): an HMAC of the source address and a 120 s time window.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { COOKIE_BYTES } from '../protocol/messages';
import { ipToBytes } from '../protocol/wire';

/** Length of one cookie window; the current and the previous window are accepted. */
export const COOKIE_WINDOW_SECONDS = 120;

/** Sources whose current cookie is remembered; beyond this the memory starts over. */
const RECENT_SOURCES = 65_536;

/** A source's cookie for `window`, and the one for the window before once it was asked for. */
interface KnownSource {
  window: number;
  cookie: Buffer;
  previous?: Buffer;
}

export class CookieJar {
  private readonly key: Buffer;
  private readonly recent = new Map<string, KnownSource>();

  /** `key` is random by default, so a restart invalidates every cookie handed out before it. */
  constructor(
    private readonly now: () => number = Date.now,
    key?: Buffer,
  ) {
    this.key = key ?? randomBytes(32);
  }

  /** The cookie for `ip`:`port` in the current window. */
  issue(ip: string, port: number): Buffer {
    return this.compute(this.window(), ip, port);
  }

  /** True when `cookie` was issued to `ip`:`port` in the current or the previous window. */
  verify(cookie: Buffer, ip: string, port: number): boolean {
    if (cookie.length !== COOKIE_BYTES) return false;
    const w = this.window();
    const known = this.current(w, ip, port);
    if (timingSafeEqual(cookie, known.cookie)) return true;
    if (w === 0) return false;
    known.previous ??= this.compute(w - 1, ip, port);
    return timingSafeEqual(cookie, known.previous);
  }

  /**
   * This window's cookie for a source (and the previous window's), remembered: a peer sends many
   * requests per window and an HMAC for each was the server's largest cost after sending. Bounded;
   * forgetting only costs an HMAC.
   */
  private current(w: number, ip: string, port: number): KnownSource {
    const k = `${ip}|${port}`;
    const known = this.recent.get(k);
    if (known && known.window === w) return known;
    // A client keeps its cookie until refused, so after a window turns most of its requests carry the
    // previous window's cookie: that one is remembered too, or each of them would cost an HMAC.
    const fresh: KnownSource = { window: w, cookie: this.compute(w, ip, port), previous: known && known.window === w - 1 ? known.cookie : undefined };
    if (this.recent.size >= RECENT_SOURCES) this.recent.clear();
    this.recent.set(k, fresh);
    return fresh;
  }

  private window(): number {
    return Math.floor(this.now() / 1000 / COOKIE_WINDOW_SECONDS);
  }

  private compute(window: number, ip: string, port: number): Buffer {
    const addr = ipToBytes(ip);
    const msg = Buffer.allocUnsafe(4 + 1 + addr.length + 2);
    msg.writeUInt32BE(window >>> 0, 0);
    msg[4] = addr.length === 4 ? 4 : 6;
    addr.copy(msg, 5);
    msg.writeUInt16BE(port, 5 + addr.length);
    // Sliced out of a 32-byte digest of its own (not the shared pool), so a remembered cookie pins nothing else.
    return createHmac('sha256', this.key).update(msg).digest().subarray(0, COOKIE_BYTES);
  }
}
