// New-form UDP PDUs between peers and the index server: one encode/decode pair per PDU.
import { P2PError } from './errors';
import {
  AckReply, COOKIE_BYTES, DeregisterRequest, ErrorReply, HASH_BYTES, HEADER_BYTES, HelloReply, HelloRequest,
  IndexReply, IndexRequest, MAX_DATAGRAM, MAX_HIT_VERSIONS, NameHit, NameSearchReply, NameSearchRequest, OnlineEntry, OnlineReply, OnlineRequest, RegisterRequest, EXCHANGE_KEY_BYTES, INDEX_KEY_BYTES, MAC_BYTES, HELLO_BYTES,
  SearchReply, SearchRequest, Source, VERSION, CLASSIC_SIZE,
} from './messages';
import { Reader, Writer, cutUtf8 } from './wire';
import { claimsBytes, readClaims, writeClaims } from './claims';

interface Codec<T> {
  encode(msg: T): Buffer;
  /** Reads the body after the 6-byte header. */
  decode(r: Reader, requestId: number): T;
}

function header(type: string, requestId: number): Writer {
  return new Writer().u8(type.charCodeAt(0)).u8(VERSION).u32(requestId);
}

function finish(w: Writer, what: string): Buffer {
  if (w.length > MAX_DATAGRAM) throw new P2PError('TOO_LARGE', `${what} is ${w.length} bytes; the limit is ${MAX_DATAGRAM}`);
  return w.toBuffer();
}

/** An H request pads to the size of its reply, so H can never amplify. */
const HELLO_PADDING = HELLO_BYTES - HEADER_BYTES;

/** The proof fields of an R or T, in wire order, right after the cookie. */
function writeProof(w: Writer, m: { mac: Buffer; keyShare: Buffer; wrappedKey: Buffer }): Writer {
  return w.fixed(m.mac, MAC_BYTES, 'mac').fixed(m.keyShare, EXCHANGE_KEY_BYTES, 'key share').fixed(m.wrappedKey, INDEX_KEY_BYTES, 'wrapped key');
}

/** Views of the datagram, as the cookie is: the index checks them against the datagram and keeps none of them. */
function readProof(r: Reader): { mac: Buffer; keyShare: Buffer; wrappedKey: Buffer } {
  return { mac: r.view(MAC_BYTES, 'mac'), keyShare: r.view(EXCHANGE_KEY_BYTES, 'key share'), wrappedKey: r.view(INDEX_KEY_BYTES, 'wrapped key') };
}

export const hello: Codec<HelloRequest> = {
  encode: (m) => finish(header('H', m.requestId).fixed(Buffer.alloc(HELLO_PADDING), HELLO_PADDING, 'padding'), 'H'),
  decode: (r, requestId) => {
    r.bytes(HELLO_PADDING, 'H padding');
    r.end('H');
    return { type: 'H', requestId };
  },
};

// Requests are read only by the index, which checks a request's cookie (and an R or T's proof fields)
// and drops them with the request: they are decoded as views of the datagram, not copies.
export const register: Codec<RegisterRequest> = {
  encode: (m) => {
    const w = writeProof(header('R', m.requestId).fixed(m.cookie, COOKIE_BYTES, 'cookie'), m)
      .u16(m.tcpPort)
      .u64(m.size)
      .fixed(m.sha256, HASH_BYTES, 'sha256')
      .str(m.peerName, 'peer name')
      .str(m.contentName, 'content name');
    return finish(writeClaims(w, m.claims), 'R');
  },
  decode: (r, requestId) => {
    const m: RegisterRequest = {
      type: 'R',
      requestId,
      cookie: r.view(COOKIE_BYTES, 'cookie'),
      ...readProof(r),
      tcpPort: r.u16('tcp port'),
      size: r.u64('size'),
      sha256: r.bytes(HASH_BYTES, 'sha256'),
      peerName: r.str('peer name'),
      contentName: r.str('content name'),
      claims: readClaims(r),
    };
    r.end('R');
    return m;
  },
};

export const deregister: Codec<DeregisterRequest> = {
  encode: (m) =>
    finish(
      writeProof(header('T', m.requestId).fixed(m.cookie, COOKIE_BYTES, 'cookie'), m)
        .str(m.peerName, 'peer name')
        .str(m.contentName, 'content name'),
      'T',
    ),
  decode: (r, requestId) => {
    const m: DeregisterRequest = {
      type: 'T',
      requestId,
      cookie: r.view(COOKIE_BYTES, 'cookie'),
      ...readProof(r),
      peerName: r.str('peer name'),
      contentName: r.str('content name'),
    };
    r.end('T');
    return m;
  },
};

export const search: Codec<SearchRequest> = {
  encode: (m) => finish(header('S', m.requestId).fixed(m.cookie, COOKIE_BYTES, 'cookie').str(m.contentName, 'content name'), 'S'),
  decode: (r, requestId) => {
    const m: SearchRequest = { type: 'S', requestId, cookie: r.view(COOKIE_BYTES, 'cookie'), contentName: r.str('content name') };
    r.end('S');
    return m;
  },
};

export const online: Codec<OnlineRequest> = {
  encode: (m) => finish(header('O', m.requestId).fixed(m.cookie, COOKIE_BYTES, 'cookie').u32(m.cursor), 'O'),
  decode: (r, requestId) => {
    const m: OnlineRequest = { type: 'O', requestId, cookie: r.view(COOKIE_BYTES, 'cookie'), cursor: r.u32('cursor') };
    r.end('O');
    return m;
  },
};

export const nameSearch: Codec<NameSearchRequest> = {
  encode: (m) =>
    finish(header('F', m.requestId).fixed(m.cookie, COOKIE_BYTES, 'cookie').u32(m.cursor).str(m.query, 'search text'), 'F'),
  decode: (r, requestId) => {
    const m: NameSearchRequest = { type: 'F', requestId, cookie: r.view(COOKIE_BYTES, 'cookie'), cursor: r.u32('cursor'), query: r.str('search text') };
    r.end('F');
    return m;
  },
};

export const helloReply: Codec<HelloReply> = {
  encode: (m) =>
    finish(header('H', m.requestId).fixed(m.cookie, COOKIE_BYTES, 'cookie').fixed(m.exchangeKey, EXCHANGE_KEY_BYTES, 'exchange key'), 'H reply'),
  decode: (r, requestId) => {
    const m: HelloReply = { type: 'H', requestId, cookie: r.bytes(COOKIE_BYTES, 'cookie'), exchangeKey: r.bytes(EXCHANGE_KEY_BYTES, 'exchange key') };
    r.end('H reply');
    return m;
  },
};

export const ack: Codec<AckReply> = {
  encode: (m) => finish(header('A', m.requestId).u32(m.leaseSeconds).str(m.message, 'message'), 'A'),
  decode: (r, requestId) => {
    const m: AckReply = { type: 'A', requestId, leaseSeconds: r.u32('lease'), message: r.str('message') };
    r.end('A');
    return m;
  },
};

export const error: Codec<ErrorReply> = {
  encode: (m) => finish(header('E', m.requestId).u16(m.code).str(m.message, 'message'), 'E'),
  decode: (r, requestId) => {
    const m: ErrorReply = { type: 'E', requestId, code: r.u16('code'), message: r.str('message') };
    r.end('E');
    return m;
  },
};

/** Bytes one source takes in an S reply, its claims included. */
export function sourceBytes(s: Source): number {
  return addressedBytes(s) + claimsBytes(s.claims);
}

/** Peer name, address, size and hash: what an S source and an O entry both carry. */
function addressedBytes(s: Source): number {
  return 1 + Buffer.byteLength(s.peerName) + (isV6Text(s.host) ? 19 : 7) + 8 + HASH_BYTES;
}

function isV6Text(host: string): boolean {
  return host.includes(':') && !/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(host);
}

/** Bytes one entry takes in an O reply. */
export function entryBytes(e: OnlineEntry): number {
  return addressedBytes(e) + 1 + Buffer.byteLength(e.contentName);
}

/** Bytes of an S reply before its sources, and of an O reply before its entries. */
export const SOURCES_OVERHEAD = HEADER_BYTES + 2;
export const PAGE_OVERHEAD = HEADER_BYTES + 4 + 2;

function writeSource(w: Writer, s: Source): Writer {
  w.str(s.peerName, 'peer name').addr(s.host, s.port).u64(s.size).fixed(s.sha256, HASH_BYTES, 'sha256');
  return writeClaims(w, s.claims);
}

function readSource(r: Reader): Source {
  const peerName = r.str('peer name');
  const { host, port } = r.addr();
  return { peerName, host, port, size: r.u64('size'), sha256: r.bytes(HASH_BYTES, 'sha256'), claims: readClaims(r) };
}

export const sources: Codec<SearchReply> = {
  encode: (m) => {
    const w = header('S', m.requestId).u16(m.sources.length);
    for (const s of m.sources) writeSource(w, s);
    return finish(w, 'S reply');
  },
  decode: (r, requestId) => {
    const n = r.u16('count');
    const list: Source[] = [];
    for (let i = 0; i < n; i++) list.push(readSource(r));
    r.end('S reply');
    return { type: 'S', requestId, sources: list };
  },
};

export const onlinePage: Codec<OnlineReply> = {
  encode: (m) => {
    const w = header('O', m.requestId).u32(m.next).u16(m.entries.length);
    for (const e of m.entries) {
      w.str(e.peerName, 'peer name').str(e.contentName, 'content name').addr(e.host, e.port).u64(e.size).fixed(e.sha256, HASH_BYTES, 'sha256');
    }
    return finish(w, 'O reply');
  },
  decode: (r, requestId) => {
    const next = r.u32('next');
    const n = r.u16('count');
    const entries: OnlineEntry[] = [];
    for (let i = 0; i < n; i++) {
      const peerName = r.str('peer name');
      const contentName = r.str('content name');
      const { host, port } = r.addr();
      entries.push({ peerName, contentName, host, port, size: r.u64('size'), sha256: r.bytes(HASH_BYTES, 'sha256') });
    }
    r.end('O reply');
    return { type: 'O', requestId, next, entries };
  },
};

/** Bytes one version takes in an F hit: size, SHA-256, source count. */
const HIT_VERSION_BYTES = 8 + HASH_BYTES + 4;

/** Bytes one hit takes in an F reply. */
export function hitBytes(h: NameHit): number {
  return 1 + Buffer.byteLength(h.contentName) + 1 + h.versions.length * HIT_VERSION_BYTES;
}

/** Bytes of an F reply before its hits (as an O reply: next and count). */
export const HITS_OVERHEAD = PAGE_OVERHEAD;

export const nameHits: Codec<NameSearchReply> = {
  encode: (m) => {
    const w = header('F', m.requestId).u32(m.next).u16(m.hits.length);
    for (const h of m.hits) {
      if (h.versions.length < 1 || h.versions.length > MAX_HIT_VERSIONS) {
        throw new P2PError('MALFORMED', `an F hit has 1 to ${MAX_HIT_VERSIONS} versions, got ${h.versions.length}`);
      }
      w.str(h.contentName, 'content name').u8(h.versions.length);
      for (const v of h.versions) w.u64(v.size).fixed(v.sha256, HASH_BYTES, 'sha256').u32(v.sources);
    }
    return finish(w, 'F reply');
  },
  decode: (r, requestId) => {
    const next = r.u32('next');
    const n = r.u16('count');
    const hits: NameHit[] = [];
    for (let i = 0; i < n; i++) {
      const contentName = r.str('content name');
      const count = r.u8('version count');
      if (count < 1 || count > MAX_HIT_VERSIONS) throw new P2PError('MALFORMED', `an F hit has 1 to ${MAX_HIT_VERSIONS} versions, got ${count}`);
      const versions = [];
      for (let k = 0; k < count; k++) versions.push({ size: r.u64('size'), sha256: r.bytes(HASH_BYTES, 'sha256'), sources: r.u32('sources') });
      hits.push({ contentName, versions });
    }
    r.end('F reply');
    return { type: 'F', requestId, next, hits };
  },
};

const requestCodecs: Record<string, Codec<IndexRequest>> = { H: hello, R: register, T: deregister, S: search, O: online, F: nameSearch } as never;
const replyCodecs: Record<string, Codec<IndexReply>> = { H: helloReply, A: ack, E: error, S: sources, O: onlinePage, F: nameHits } as never;

/** `junk` is neither form (byte 1 is not the version): no client of either form could read a reply to it. */
export type DatagramKind = 'classic' | 'new' | 'junk' | 'oversize';

/** Tells a classic 101-byte PDU from a new-form one (docs/protocol.md, "How a datagram is read"). */
export function classifyDatagram(buf: Buffer): DatagramKind {
  if (buf.length > MAX_DATAGRAM) return 'oversize';
  if (buf.length === CLASSIC_SIZE && !(buf[1] >= 0x80 && buf[1] <= 0xbf)) return 'classic';
  return buf.length >= 2 && buf[1] === VERSION ? 'new' : 'junk';
}

/** Reads the 6-byte header; throws MALFORMED or UNKNOWN_TYPE. */
export function readHeader(buf: Buffer, known: Record<string, unknown>): { type: string; requestId: number; reader: Reader } {
  if (buf.length > MAX_DATAGRAM) throw new P2PError('TOO_LARGE', `datagram is ${buf.length} bytes; the limit is ${MAX_DATAGRAM}`);
  const r = new Reader(buf);
  const t = r.u8('type');
  const version = r.u8('version');
  if (version !== VERSION) throw new P2PError('MALFORMED', `version byte 0x${version.toString(16)}, expected 0x81`);
  const requestId = r.u32('request id');
  const type = String.fromCharCode(t);
  if (!(type in known)) throw new P2PError('UNKNOWN_TYPE', `type 0x${t.toString(16).padStart(2, '0')}`);
  return { type, requestId, reader: r };
}

/**
 * The request id of a new-form datagram, or undefined when it is too short to carry one.
 * Lets a server echo the id in the E it sends for a PDU that failed to decode.
 */
export function peekRequestId(buf: Buffer): number | undefined {
  return buf.length >= HEADER_BYTES && buf[1] === VERSION ? buf.readUInt32BE(2) : undefined;
}

/** The type letter of a datagram of either form (its first byte); '' for an empty one. */
export function peekType(buf: Buffer): string {
  return buf.length > 0 ? String.fromCharCode(buf[0]) : '';
}

export function decodeIndexRequest(buf: Buffer): IndexRequest {
  const { type, requestId, reader } = readHeader(buf, requestCodecs);
  return requestCodecs[type].decode(reader, requestId);
}

export function encodeIndexRequest(m: IndexRequest): Buffer {
  return requestCodecs[m.type].encode(m);
}

export function decodeIndexReply(buf: Buffer): IndexReply {
  const { type, requestId, reader } = readHeader(buf, replyCodecs);
  return replyCodecs[type].decode(reader, requestId);
}

export function encodeIndexReply(m: IndexReply): Buffer {
  return replyCodecs[m.type].encode(m);
}

/**
 * A well-formed A or E, or an H whose cookie is set (an H request pads with zeros where the
 * reply carries its random cookie and key): a reply, not a request. S and O replies are not told apart
 * here; their letters are requests too.
 */
export function isIndexReply(buf: Buffer): boolean {
  try {
    const r = decodeIndexReply(buf);
    return r.type === 'A' || r.type === 'E' || (r.type === 'H' && (r.cookie.some((b) => b !== 0) || r.exchangeKey.some((b) => b !== 0)));
  } catch {
    return false;
  }
}

/**
 * An E reply no larger than `limit` bytes: the message is cut (on a UTF-8 boundary) to fit.
 * Returns undefined when not even an empty E fits (the server then stays silent).
 */
export function encodeErrorWithin(requestId: number, code: number, message: string, limit: number): Buffer | undefined {
  const room = limit - (HEADER_BYTES + 2 + 1);
  if (room < 0) return undefined;
  return error.encode({ type: 'E', requestId, code, message: cutUtf8(message, Math.min(room, 255)) });
}
