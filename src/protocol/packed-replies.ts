// S and O replies written straight from sources kept packed (hash and claims as latin1 wire bytes): the same bytes as udp.ts's codecs, without a Source object or a Buffer per source.
import { P2PError } from './errors';
import { HASH_BYTES, HEADER_BYTES, MAX_DATAGRAM, MAX_NAME_BYTES, VERSION } from './messages';
import { ipToBytes } from './wire';

/**
 * A source as a store keeps it: `hash` is the SHA-256 as 32 latin1 characters, `claims` the claims
 * trailer exactly as `packClaims` wrote it ('' for none). Both were made by this codec, never taken
 * from a peer's bytes as they came.
 */
export interface PackedSource {
  readonly peerName: string;
  readonly host: string;
  readonly port: number;
  readonly size: number;
  readonly hash: string;
  readonly claims: string;
}

export interface PackedEntry extends PackedSource {
  readonly contentName: string;
}

/** Bytes of a name field: its length byte and its UTF-8. */
function nameBytes(s: string): number {
  // Most names are ASCII, where the UTF-16 length is the byte count; byteLength only otherwise.
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return 1 + Buffer.byteLength(s, 'utf8');
  return 1 + n;
}

/** Family byte, address and port: 7 bytes for IPv4 (a mapped IPv6 included), 19 for IPv6. */
function addressBytes(host: string): number {
  return ipToBytes(host).length === 4 ? 7 : 19;
}

/** Bytes one source takes in an S reply (as `sourceBytes` in udp.ts). */
export function packedSourceBytes(s: PackedSource): number {
  return nameBytes(s.peerName) + addressBytes(s.host) + 8 + HASH_BYTES + (s.claims === '' ? 1 : s.claims.length);
}

/** Bytes one entry takes in an O reply (as `entryBytes` in udp.ts). */
export function packedEntryBytes(e: PackedEntry): number {
  return nameBytes(e.peerName) + nameBytes(e.contentName) + addressBytes(e.host) + 8 + HASH_BYTES;
}

/** The S reply to `requestId` listing `sources`: byte for byte what `encodeIndexReply` writes for them. */
export function encodePackedSources(requestId: number, sources: readonly PackedSource[]): Buffer {
  let size = HEADER_BYTES + 2;
  for (const s of sources) size += packedSourceBytes(s);
  const buf = start('S', requestId, size);
  let at = buf.writeUInt16BE(sources.length, HEADER_BYTES);
  for (const s of sources) {
    at = writeAddressed(buf, at, s);
    if (s.claims === '') buf[at++] = 0;
    else at += buf.write(s.claims, at, 'latin1');
  }
  return done(buf, at, 'S reply');
}

/** The O reply to `requestId`: `entries`, then `next`; byte for byte what `encodeIndexReply` writes. */
export function encodePackedPage(requestId: number, next: number, entries: readonly PackedEntry[]): Buffer {
  let size = HEADER_BYTES + 4 + 2;
  for (const e of entries) size += packedEntryBytes(e);
  const buf = start('O', requestId, size);
  buf.writeUInt32BE(next, HEADER_BYTES);
  let at = buf.writeUInt16BE(entries.length, HEADER_BYTES + 4);
  for (const e of entries) {
    at = writeName(buf, at, e.peerName);
    at = writeName(buf, at, e.contentName);
    at = writeAddress(buf, at, e.host, e.port);
    at = writeSizeAndHash(buf, at, e.size, e.hash);
  }
  return done(buf, at, 'O reply');
}

function start(type: string, requestId: number, size: number): Buffer {
  if (size > MAX_DATAGRAM) throw new P2PError('TOO_LARGE', `${type} reply is ${size} bytes; the limit is ${MAX_DATAGRAM}`);
  const buf = Buffer.allocUnsafe(size);
  buf[0] = type.charCodeAt(0);
  buf[1] = VERSION;
  buf.writeUInt32BE(requestId >>> 0, 2);
  return buf;
}

function done(buf: Buffer, at: number, what: string): Buffer {
  // A packed field of the wrong length would leave stale bytes: never send them.
  if (at !== buf.length) throw new P2PError('INTERNAL', `${what}: wrote ${at} of ${buf.length} bytes`);
  return buf;
}

function writeAddressed(buf: Buffer, at: number, s: PackedSource): number {
  at = writeName(buf, at, s.peerName);
  at = writeAddress(buf, at, s.host, s.port);
  return writeSizeAndHash(buf, at, s.size, s.hash);
}

function writeName(buf: Buffer, at: number, s: string): number {
  const n = buf.write(s, at + 1, 'utf8');
  if (n > MAX_NAME_BYTES) throw new P2PError('TOO_LARGE', `a name is ${n} bytes, the limit is ${MAX_NAME_BYTES}`);
  buf[at] = n;
  return at + 1 + n;
}

function writeAddress(buf: Buffer, at: number, host: string, port: number): number {
  const bytes = ipToBytes(host);
  buf[at] = bytes.length === 4 ? 4 : 6;
  bytes.copy(buf, at + 1);
  return buf.writeUInt16BE(port, at + 1 + bytes.length);
}

function writeSizeAndHash(buf: Buffer, at: number, size: number, hash: string): number {
  if (!Number.isSafeInteger(size) || size < 0) throw new P2PError('MALFORMED', `u64 out of range: ${size}`);
  buf.writeUInt32BE(Math.floor(size / 0x100000000), at);
  buf.writeUInt32BE(size >>> 0, at + 4);
  if (hash.length !== HASH_BYTES || buf.write(hash, at + 8, HASH_BYTES, 'latin1') !== HASH_BYTES) {
    throw new P2PError('INTERNAL', `a kept hash is ${hash.length} characters, not ${HASH_BYTES}`);
  }
  return at + 8 + HASH_BYTES;
}
