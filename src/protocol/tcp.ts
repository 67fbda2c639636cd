// TCP PDUs between a downloader and a content server: D requests, C content headers, E errors.
import { P2PError } from './errors';
import { ContentHeader, DownloadRequest, HASH_BYTES, TcpError, VERSION } from './messages';
import { Reader, TruncatedError, Writer, cutUtf8 } from './wire';

/** Largest D: a content server holding this many bytes always has a whole D (or an error). */
export const MAX_D_BYTES = 2 + 1 + 255 + HASH_BYTES + 8 + 8;
export const C_HEADER_BYTES = 2 + 8 + 8 + 8;

export interface Decoded<T> {
  msg: T;
  /** Bytes of the stream the PDU took; for C, the header only (the content follows). */
  bytes: number;
}

function start(r: Reader, expect: string[]): string {
  const type = String.fromCharCode(r.u8('type'));
  if (!expect.includes(type)) throw new P2PError('UNKNOWN_TYPE', `type 0x${type.charCodeAt(0).toString(16).padStart(2, '0')} on TCP`);
  const v = r.u8('version');
  if (v !== VERSION) throw new P2PError('MALFORMED', `version byte 0x${v.toString(16)}, expected 0x81`);
  return type;
}

/** Runs `read` over what has arrived; null when the PDU has not fully arrived yet. */
function attempt<T>(buf: Buffer, read: (r: Reader) => T): Decoded<T> | null {
  const r = new Reader(buf);
  try {
    const msg = read(r);
    return { msg, bytes: r.offset };
  } catch (e) {
    if (e instanceof TruncatedError) return null;
    throw e;
  }
}

export function encodeDownloadRequest(m: DownloadRequest): Buffer {
  return new Writer()
    .u8(0x44)
    .u8(VERSION)
    .str(m.contentName, 'content name')
    .fixed(m.sha256, HASH_BYTES, 'sha256')
    .u64(m.offset)
    .u64(m.length)
    .toBuffer();
}

/** Decodes a D from the start of `buf`; null when incomplete; throws P2PError when malformed. */
export function tryDecodeDownloadRequest(buf: Buffer): Decoded<DownloadRequest> | null {
  return attempt(buf, (r) => {
    start(r, ['D']);
    return {
      type: 'D' as const,
      contentName: r.str('content name'),
      sha256: r.bytes(HASH_BYTES, 'sha256'),
      offset: r.u64('offset'),
      length: r.u64('length'),
    };
  });
}

export function encodeContentHeader(m: Omit<ContentHeader, 'type'>): Buffer {
  if (m.offset + m.length > m.size) throw new P2PError('BAD_RANGE', `${m.offset}+${m.length} > ${m.size}`);
  return new Writer().u8(0x43).u8(VERSION).u64(m.size).u64(m.offset).u64(m.length).toBuffer();
}

export function encodeTcpError(code: number, message: string): Buffer {
  return new Writer().u8(0x45).u8(VERSION).u16(code).str(cutUtf8(message, 255), 'message').toBuffer();
}

/** Decodes a C header or an E from the start of `buf`; null when incomplete. */
export function tryDecodeContentResponse(buf: Buffer): Decoded<ContentHeader | TcpError> | null {
  return attempt(buf, (r): ContentHeader | TcpError => {
    const type = start(r, ['C', 'E']);
    if (type === 'E') return { type: 'E', code: r.u16('code'), message: r.str('message') };
    const h: ContentHeader = { type: 'C', size: r.u64('size'), offset: r.u64('offset'), length: r.u64('length') };
    if (h.offset + h.length > h.size) throw new P2PError('MALFORMED', `C range ${h.offset}+${h.length} exceeds size ${h.size}`);
    return h;
  });
}
