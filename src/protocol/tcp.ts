// TCP PDUs between a downloader and a content server: D requests, C content headers, E errors.
import { P2PError } from './errors';
import { ContentHeader, DownloadRequest, HASH_BYTES, PieceReply, PieceRequest, TcpError, VERSION } from './messages';
import { MAX_LEAVES_PER_REPLY } from './pieces';
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
  const d = tryDecodeUploadRequest(buf);
  if (d && d.msg.type !== 'D') throw new P2PError('UNKNOWN_TYPE', 'type 0x50 where a D was expected');
  return d as Decoded<DownloadRequest> | null;
}

/** Decodes what a content server reads: a D or a P; null when incomplete; throws P2PError when malformed. */
export function tryDecodeUploadRequest(buf: Buffer): Decoded<DownloadRequest | PieceRequest> | null {
  return attempt(buf, (r): DownloadRequest | PieceRequest => {
    const type = start(r, ['D', 'P']);
    const contentName = r.str('content name');
    const sha256 = r.bytes(HASH_BYTES, 'sha256');
    if (type === 'P') return { type: 'P', contentName, sha256, first: r.u32('first leaf') };
    return { type: 'D', contentName, sha256, offset: r.u64('offset'), length: r.u64('length') };
  });
}

export function encodePieceRequest(m: Omit<PieceRequest, 'type'>): Buffer {
  return new Writer().u8(0x50).u8(VERSION).str(m.contentName, 'content name').fixed(m.sha256, HASH_BYTES, 'sha256').u32(m.first).toBuffer();
}

/** A P reply: at most MAX_LEAVES_PER_REPLY leaves, and never past `total`. */
export function encodePieceReply(m: Omit<PieceReply, 'type'>): Buffer {
  const count = m.leaves.length / HASH_BYTES;
  if (!Number.isInteger(count) || count > MAX_LEAVES_PER_REPLY || m.first + count > m.total) {
    throw new P2PError('BAD_RANGE', `${count} leaves from ${m.first} of ${m.total}`);
  }
  return new Writer(14 + m.leaves.length).u8(0x50).u8(VERSION).u32(m.total).u32(m.first).u16(count).fixed(m.leaves, m.leaves.length, 'leaves').toBuffer();
}

/**
 * Decodes a P reply or an E; null when incomplete. The count is checked before the leaves are
 * waited for, so a reply can never make the reader hold more than one page.
 */
export function tryDecodePieceReply(buf: Buffer): Decoded<PieceReply | TcpError> | null {
  return attempt(buf, (r): PieceReply | TcpError => {
    const type = start(r, ['P', 'E']);
    if (type === 'E') return { type: 'E', code: r.u16('code'), message: r.str('message') };
    const total = r.u32('total');
    const first = r.u32('first');
    const count = r.u16('count');
    if (count > MAX_LEAVES_PER_REPLY) throw new P2PError('MALFORMED', `P reply with ${count} leaves; at most ${MAX_LEAVES_PER_REPLY}`);
    if (first + count > total) throw new P2PError('MALFORMED', `P reply leaves ${first}+${count} exceed its total ${total}`);
    return { type: 'P', total, first, leaves: r.bytes(count * HASH_BYTES, 'leaves') };
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
