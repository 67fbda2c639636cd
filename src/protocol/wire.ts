// Byte-level reader and writer for PDUs: bounds-checked, big-endian, strict UTF-8; no I/O.
import { isIPv4, isIPv6 } from 'node:net';
import { P2PError } from './errors';
import { isWholeNumberIn } from '../common/numbers';
import { MAX_NAME_BYTES } from './messages';

// ignoreBOM keeps a leading U+FEFF in the text, where the name rules see and refuse it, instead of dropping it unseen.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A PDU that ends early; on a stream this only means "wait for more bytes". */
export class TruncatedError extends P2PError {
  constructor(detail: string) {
    super('MALFORMED', detail);
  }
}

export class Reader {
  private pos: number;
  constructor(
    private readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new TruncatedError(`truncated: ${what} needs ${n} bytes, ${this.remaining} left`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): number {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.pos);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new P2PError('MALFORMED', `${what} exceeds 2^53-1`);
    this.pos += 8;
    return Number(v);
  }

  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    // A copy, so a decoded value never pins or aliases the (possibly pooled) datagram buffer.
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return v;
  }

  /**
   * The next `n` bytes as a view of the datagram, not a copy: for fields a receiver checks and drops
   * at once (a request's cookie), where a copy per request is only garbage.
   */
  view(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  str(what = 'string'): string {
    const len = this.u8(`${what} length`);
    this.need(len, what);
    const s = decodeUtf8(this.buf.subarray(this.pos, this.pos + len), what);
    this.pos += len;
    return s;
  }

  addr(what = 'address'): { host: string; port: number } {
    const family = this.u8(`${what} family`);
    let host: string;
    if (family === 4) {
      this.need(4, what);
      host = Array.from(this.buf.subarray(this.pos, this.pos + 4)).join('.');
      this.pos += 4;
    } else if (family === 6) {
      this.need(16, what);
      host = ipv6ToText(this.buf.subarray(this.pos, this.pos + 16));
      this.pos += 16;
    } else {
      throw new P2PError('MALFORMED', `${what} family must be 4 or 6, got ${family}`);
    }
    return { host, port: this.u16(`${what} port`) };
  }

  /** Every PDU must end exactly at its last field. */
  end(what: string): void {
    if (this.remaining !== 0) throw new P2PError('MALFORMED', `${this.remaining} trailing bytes after ${what}`);
  }
}

/** Writes a PDU in place into one buffer (grown by doubling), so encoding allocates almost nothing. */
export class Writer {
  private buf: Buffer;
  private len = 0;

  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  private room(n: number): number {
    const at = this.len;
    if (at + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, at + n));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.len += n;
    return at;
  }

  get length(): number {
    return this.len;
  }

  u8(v: number): this {
    checkInt(v, 0xff, 'u8');
    const at = this.room(1);
    this.buf[at] = v;
    return this;
  }

  u16(v: number): this {
    checkInt(v, 0xffff, 'u16');
    const at = this.room(2);
    this.buf.writeUInt16BE(v, at);
    return this;
  }

  u32(v: number): this {
    checkInt(v, 0xffffffff, 'u32');
    const at = this.room(4);
    this.buf.writeUInt32BE(v, at);
    return this;
  }

  u64(v: number): this {
    checkInt(v, Number.MAX_SAFE_INTEGER, 'u64');
    const at = this.room(8);
    // Two u32 halves: exact for every integer up to 2^53-1 and cheaper than a BigInt.
    this.buf.writeUInt32BE(Math.floor(v / 0x100000000), at);
    this.buf.writeUInt32BE(v >>> 0, at + 4);
    return this;
  }

  fixed(b: Buffer, n: number, what: string): this {
    if (!Buffer.isBuffer(b) || b.length !== n) throw new P2PError('MALFORMED', `${what} must be ${n} bytes`);
    const at = this.room(n); // before reading this.buf: room() may replace it
    b.copy(this.buf, at);
    return this;
  }

  str(s: string, what = 'string'): this {
    const n = Buffer.byteLength(s, 'utf8');
    if (n > MAX_NAME_BYTES) throw new P2PError('TOO_LARGE', `${what} is ${n} bytes, the limit is ${MAX_NAME_BYTES}`);
    this.u8(n);
    const at = this.room(n);
    this.buf.write(s, at, n, 'utf8');
    return this;
  }

  addr(host: string, port: number): this {
    const bytes = ipToBytes(host);
    this.u8(bytes.length === 4 ? 4 : 6);
    const at = this.room(bytes.length);
    bytes.copy(this.buf, at);
    return this.u16(port);
  }

  /** The encoded bytes, in a buffer of their own (the writer's spare capacity is not kept alive). */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

function checkInt(v: number, max: number, what: string): void {
  if (!isWholeNumberIn(v, 0, max)) throw new P2PError('MALFORMED', `${what} out of range: ${v}`);
}

export function decodeUtf8(b: Uint8Array, what: string): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new P2PError('MALFORMED', `${what} is not valid UTF-8`);
  }
}

/**
 * `text` cut to at most `maxBytes` of UTF-8 without splitting a sequence, for the message fields
 * (E replies, classic A/E) where a long text is shortened rather than refused.
 */
export function cutUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let cut = maxBytes;
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
  return bytes.subarray(0, cut).toString('utf8');
}

const v4Cache = new Map<string, Buffer>();

/** 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6. The result must not be written to. */
export function ipToBytes(host: string): Buffer {
  // Every S source and O entry asks: a known host costs one lookup, before any pattern runs.
  const known = v4Cache.get(host);
  if (known) return known;
  const original = host;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) host = mapped[1];
  if (isIPv4(host)) {
    const b = v4Cache.get(host) ?? Buffer.from(host.split('.').map(Number));
    if (v4Cache.size >= 4096) v4Cache.clear(); // bounded: a server sees many hosts
    v4Cache.set(original, b);
    return b;
  }
  if (isIPv6(host)) return ipv6ToBytes(host);
  throw new P2PError('BAD_ADDRESS', `not an IP address: ${host}`);
}

function ipv6ToBytes(host: string): Buffer {
  let text = host.replace(/%.*$/, ''); // zone id is local to the host; not on the wire
  const out = Buffer.alloc(16);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function ipv6ToText(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  // Longest run of zero groups (length >= 2) becomes '::' (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}
