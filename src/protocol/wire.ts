// Byte-level reader and writer for PDUs: bounds-checked, big-endian, strict UTF-8; no I/O.
import { isIPv4, isIPv6 } from 'node:net';
import { P2PError } from './errors';
import { MAX_NAME_BYTES } from './messages';

const utf8 = new TextDecoder('utf-8', { fatal: true });

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

export class Writer {
  private readonly parts: Buffer[] = [];
  private len = 0;

  private push(b: Buffer): this {
    this.parts.push(b);
    this.len += b.length;
    return this;
  }

  get length(): number {
    return this.len;
  }

  u8(v: number): this {
    checkInt(v, 0xff, 'u8');
    return this.push(Buffer.of(v));
  }

  u16(v: number): this {
    checkInt(v, 0xffff, 'u16');
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(v);
    return this.push(b);
  }

  u32(v: number): this {
    checkInt(v, 0xffffffff, 'u32');
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v);
    return this.push(b);
  }

  u64(v: number): this {
    checkInt(v, Number.MAX_SAFE_INTEGER, 'u64');
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(v));
    return this.push(b);
  }

  fixed(b: Buffer, n: number, what: string): this {
    if (!Buffer.isBuffer(b) || b.length !== n) throw new P2PError('MALFORMED', `${what} must be ${n} bytes`);
    return this.push(b);
  }

  str(s: string, what = 'string'): this {
    const b = Buffer.from(s, 'utf8');
    if (b.length > MAX_NAME_BYTES) throw new P2PError('TOO_LARGE', `${what} is ${b.length} bytes, the limit is ${MAX_NAME_BYTES}`);
    return this.u8(b.length).push(b);
  }

  addr(host: string, port: number): this {
    const bytes = ipToBytes(host);
    return this.u8(bytes.length === 4 ? 4 : 6).push(bytes).u16(port);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.len);
  }
}

function checkInt(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new P2PError('MALFORMED', `${what} out of range: ${v}`);
}

export function decodeUtf8(b: Uint8Array, what: string): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new P2PError('MALFORMED', `${what} is not valid UTF-8`);
  }
}

/** 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6. */
export function ipToBytes(host: string): Buffer {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) host = mapped[1];
  if (isIPv4(host)) return Buffer.from(host.split('.').map(Number));
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
