// Typed shapes of every PDU and the protocol's constants; docs/protocol.md is the byte-level contract.
import type { SourceClaims } from './claims';

/** Second byte of every new-form PDU. A classic PDU can never start its data with 0x80..0xBF. */
export const VERSION = 0x81;
/** No UDP datagram the index server or a peer sends or accepts is larger than this. */
export const MAX_DATAGRAM = 1200;
/** A classic PDU: 1 type byte + 100 data bytes, NUL-padded. */
export const CLASSIC_SIZE = 101;
export const CLASSIC_NAME_BYTES = 20;
export const MAX_NAME_BYTES = 255;
export const COOKIE_BYTES = 16;
/** A peer's secret: it never leaves the peer; the index learns only the index key derived from it (proof.ts). */
export const SECRET_BYTES = 32;
export const HASH_BYTES = 32;
/** The index key K a peer name is bound to, the MAC an R or T carries, and an X25519 public key. */
export const INDEX_KEY_BYTES = 32;
export const MAC_BYTES = 32;
export const EXCHANGE_KEY_BYTES = 32;
/** Size of the UDP header: type, version, request id. */
export const HEADER_BYTES = 6;
/** H request length: padded so that the H reply (header + cookie + exchange key) is never larger than the request. */
export const HELLO_BYTES = HEADER_BYTES + COOKIE_BYTES + EXCHANGE_KEY_BYTES;

export type Family = 4 | 6;

/** A peer's content-server address as the index saw it: the R datagram's source IP and the declared TCP port. */
export interface PeerAddress {
  host: string; // textual IPv4 ("127.0.0.1") or IPv6 ("::1")
  port: number;
}

// ---- UDP: peer -> index ----
export interface HelloRequest { type: 'H'; requestId: number }
export interface RegisterRequest {
  type: 'R';
  requestId: number;
  cookie: Buffer; // 16 bytes
  /** The proof of the peer name (docs/protocol.md, "Proof of ownership"): MAC under the index key, and the claim. */
  mac: Buffer;
  keyShare: Buffer;
  wrappedKey: Buffer;
  tcpPort: number;
  size: number;
  sha256: Buffer; // 32 bytes
  peerName: string;
  contentName: string;
  /** Trailer: what the peer claims beyond size and hash (piece root, TLS pin); absent or {} = none. */
  claims?: SourceClaims;
}
export interface DeregisterRequest {
  type: 'T';
  requestId: number;
  cookie: Buffer;
  mac: Buffer;
  keyShare: Buffer;
  wrappedKey: Buffer;
  peerName: string;
  contentName: string; // '' = every registration of this peer (the Q of the menu)
}
export interface SearchRequest { type: 'S'; requestId: number; cookie: Buffer; contentName: string }
export interface OnlineRequest { type: 'O'; requestId: number; cookie: Buffer; cursor: number }
/** F: content names that contain `query` (docs/protocol.md, "F — find by part of a name"). */
export interface NameSearchRequest { type: 'F'; requestId: number; cookie: Buffer; cursor: number; query: string }
export type IndexRequest = HelloRequest | RegisterRequest | DeregisterRequest | SearchRequest | OnlineRequest | NameSearchRequest;

// ---- UDP: index -> peer ----
/** `exchangeKey`: the index's X25519 public key for this run, to which a first claim wraps its index key. */
export interface HelloReply { type: 'H'; requestId: number; cookie: Buffer; exchangeKey: Buffer }
export interface AckReply { type: 'A'; requestId: number; leaseSeconds: number; message: string }
export interface ErrorReply { type: 'E'; requestId: number; code: number; message: string }
export interface Source extends PeerAddress {
  peerName: string;
  size: number;
  sha256: Buffer;
  /** Carried by S sources (absent or {} = none); O entries do not carry claims. */
  claims?: SourceClaims;
}
export interface SearchReply { type: 'S'; requestId: number; sources: Source[] }
export interface OnlineEntry extends Source { contentName: string }
export interface OnlineReply { type: 'O'; requestId: number; next: number; entries: OnlineEntry[] }
/** Most versions of one content name an F hit carries: the ones with most sources. */
export const MAX_HIT_VERSIONS = 8;
/** One version of a content in an F hit: sources that registered this (SHA-256, size). */
export interface HitVersion { size: number; sha256: Buffer; sources: number }
export interface NameHit { contentName: string; versions: HitVersion[] }
export interface NameSearchReply { type: 'F'; requestId: number; next: number; hits: NameHit[] }
export type IndexReply = HelloReply | AckReply | ErrorReply | SearchReply | OnlineReply | NameSearchReply;

// ---- TCP: peer <-> peer ----
export interface DownloadRequest {
  type: 'D';
  contentName: string;
  sha256: Buffer;
  offset: number;
  length: number; // 0 = to the end
}
/** Header of a C frame; exactly `length` content bytes follow it on the stream. */
export interface ContentHeader { type: 'C'; size: number; offset: number; length: number }
export interface TcpError { type: 'E'; code: number; message: string }
/** Asks for the piece hashes (leaves) of one content, from leaf `first` on (docs/protocol.md, "Pieces"). */
export interface PieceRequest { type: 'P'; contentName: string; sha256: Buffer; first: number }
/** One page of leaves: `total` leaves in all, this page from `first`, 32 bytes each end to end. */
export interface PieceReply { type: 'P'; total: number; first: number; leaves: Buffer }

// ---- Classic 101-byte PDUs (the original report's layout) ----
export interface ClassicRegister { type: 'R'; peerName: string; contentName: string; address: string }
export interface ClassicSearch { type: 'S'; peerName: string; contentName: string }
export interface ClassicDeregister { type: 'T'; peerName: string; contentName: string }
export interface ClassicOnline { type: 'O'; offset: number }
export type ClassicRequest = ClassicRegister | ClassicSearch | ClassicDeregister | ClassicOnline;

export interface ClassicText { type: 'A' | 'E'; message: string }
export interface ClassicSearchReply { type: 'S'; peerName: string; contentName: string; address: string }
export interface ClassicOnlineReply { type: 'O'; lines: { peerName: string; contentName: string }[]; nextOffset: number } // nextOffset 0 = no more
export type ClassicReply = ClassicText | ClassicSearchReply | ClassicOnlineReply;
