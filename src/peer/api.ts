// The peer engine's public shapes: what the extension and the terminal peer see of a running peer.
import type { LogLevel } from '../common/log-level';
import type { P2PError } from '../protocol/errors';

export type { LogLevel };

export interface PeerOptions {
  /** Starting peer name; must be a valid peer name (docs/protocol.md). */
  peerName: string;
  /**
   * Index server as "host:port" ("[::1]:7870" for IPv6) or {host, port}; or several, as "a:7870,b:7870" or
   * an array, at most MAX_INDEX_SERVERS (address.ts): the first that answers is used, the next when it stops.
   */
  index: string | { host: string; port: number } | ReadonlyArray<string | { host: string; port: number }>;
  /** With several index servers: how often the one in use is asked whether it still answers. Default 10 000 ms. */
  indexCheckMs?: number;
  /** TCP port of this peer's content server; 0 = any free port. Default 0. */
  listenPort?: number;
  /** Address the content server binds; default '::' (all interfaces, dual-stack) falling back to '0.0.0.0'. */
  listenHost?: string;
  /** Folder downloads go to when download() is not given one. */
  downloadFolder: string;
  /** Register downloaded content so this peer becomes a source. Default true. */
  shareDownloads?: boolean;
  /** 32 random bytes proving this peer owns its peer name; default: fresh random per start. */
  secret?: Buffer;
  /** UDP request timeout of the first try, doubled on each retry. Default 500 ms. */
  requestTimeoutMs?: number;
  /** UDP tries per request before TIMEOUT. Default 5. */
  requestTries?: number;
  /** Content server upload limit in bytes per second for each connection; 0 = unlimited. Default 0. */
  uploadRateLimit?: number;
  /** A download source sending nothing for this long fails with STALLED. Default 15000 ms. */
  stallTimeoutMs?: number;
  /**
   * Bytes per second a transfer must keep up, averaged over 10 s, on both ends: a source sending less
   * is dropped (STALLED), a downloader taking less is hung up on. 0 = off. Default 1024.
   */
  minTransferRate?: number;
  /** Connections one address (IPv6: one /64) may hold to this peer's content server. Default 8. */
  maxConnectionsPerAddress?: number;
  /** Refuse at once a download whose claimed size is larger (SIZE_LIMIT). Default DEFAULT_MAX_DOWNLOAD_BYTES (64 GiB). */
  maxDownloadBytes?: number;
  /** Download only from sources that offer TLS (a pin); others are skipped, NOT_ENCRYPTED when none is left. Default false. */
  requireEncryption?: boolean;
  /** Re-hash and re-register a shared file that changes; de-register it when deleted. Default true. */
  watchShares?: boolean;
  /** Receives every log line; the engine never writes to the console itself. */
  log?: (level: LogLevel, message: string) => void;
}

/** One of this peer's own registrations (the menu's L). */
export interface Share {
  contentName: string;
  path: string; // absolute path of the shared file
  size: number;
  sha256: string; // lower-case hex
  /** Root of the piece tree (lower-case hex), registered as the pieceRoot claim. */
  pieceRoot?: string;
  registeredAt: Date;
}

/** One entry of the online list (the menu's O): one source of one content. */
export interface OnlineItem {
  peerName: string;
  contentName: string;
  host: string;
  port: number;
  size: number;
  sha256: string; // lower-case hex; all zeros for classic registrations
}

/**
 * Where a paged list goes on: the index's cursor of a page, and how many items of that page were
 * already returned (a call that stops inside a page must neither lose nor repeat the rest of it).
 * Opaque to callers: hand back what a call returned.
 */
export interface ListCursor {
  readonly at: number;
  readonly skip: number;
}

/** One call of listOnline/searchOnline; every field is capped (src/peer/list-pages.ts). */
export interface PageRequest {
  /** Go on from here (a previous call's `next`); absent = from the start. */
  cursor?: ListCursor;
  /** Most items returned. Default 200, at most 1000. */
  maxItems?: number;
  /** Most wire bytes of items returned. Default 256 KiB, 1200 B to 1 MiB. */
  maxBytes?: number;
}

/** A slice of the online list (menu O): `next` is absent when the index said this was the end. */
export interface OnlinePage {
  items: OnlineItem[];
  next?: ListCursor;
}

/** One version of a content whose name contains the search text (menu F). */
export interface SearchHit {
  contentName: string;
  size: number;
  sha256: string; // lower-case hex
  /** Registrations of this version, as the index counts them (several peer names of one host count apart). */
  sources: number;
}

export interface SearchPage {
  hits: SearchHit[];
  next?: ListCursor;
}

export interface DownloadProgress {
  contentName: string;
  received: number;
  total: number;
  bytesPerSecond: number;
  sources: number; // sources in use right now
}

export interface DownloadOptions {
  /** Folder to save into; default PeerOptions.downloadFolder. */
  folder?: string;
  /**
   * Pin the version by its SHA-256 or a prefix of it (8 to 64 hex digits). Needed when sources disagree:
   * without it such a download fails with VERSIONS_DIFFER, listing the versions.
   */
  sha256?: string;
  /** Only download from this peer (clicking a source in the tree). */
  fromPeer?: string;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Register the downloaded file as a source; default PeerOptions.shareDownloads. */
  share?: boolean;
  /** Largest size accepted for this download; default PeerOptions.maxDownloadBytes. */
  maxBytes?: number;
  /** Only sources that offer TLS; default PeerOptions.requireEncryption. */
  requireEncryption?: boolean;
}

export interface DownloadResult {
  path: string; // final absolute path
  contentName: string;
  size: number;
  sha256: string;
  sources: string[]; // peer names that sent bytes
  resumedFrom: number; // bytes that were already in the .part file
  shared: boolean; // registered as a source afterwards
  reused?: boolean; // the complete file was already in the folder; nothing was transferred
  /** Each piece was checked on arrival; false: no source showed a piece root, only the whole-file SHA-256 was checked. */
  pieceChecked: boolean;
  /** Sources dropped for lying (a bad piece, piece hashes not matching the root), as "name (host:port)". */
  refused: string[];
  /** Peer names that sent bytes over plain TCP (sources without a pin): empty when every byte came encrypted. */
  unencrypted: string[];
}

/** A downloader this peer is sending to right now (one per connection; see ContentServer.uploads). */
export interface ActiveUpload {
  /** The downloader's IP address as the socket saw it: for display as plain text. */
  address: string;
  contentName: string;
  size: number;
  /** Bytes of the content sent on this connection so far (a re-requested range counts again). */
  sent: number;
}

export type ConnectionState = 'connecting' | 'connected' | 'unreachable' | 'stopped';

/** Events a Peer emits (Node EventEmitter). */
export interface PeerEvents {
  'shares-changed': (shares: Share[]) => void;
  state: (state: ConnectionState, detail?: string) => void;
  log: (level: LogLevel, message: string) => void;
  /** The index refused to refresh or re-register a share (e.g. NAME_TAKEN after an index restart). */
  'share-error': (contentName: string, error: P2PError) => void;
  /**
   * A share stopped and was de-registered because its path no longer leads to the file the user chose:
   * deleted or moved away (FILE_NOT_FOUND), replaced by a symbolic link (NOT_A_FILE) or by a file reached
   * another way (BAD_PATH). Emitted before the T is sent; the share is already out of listLocal().
   */
  'share-lost': (contentName: string, reason: P2PError) => void;
  /** The index server in use changed (a failover, or setIndex): its "host:port" and the one before. */
  'index-changed': (address: string, previous: string) => void;
  /** Who downloads from this peer changed (a transfer began, ended, or moved on; at most twice a second). */
  'uploads-changed': (uploads: ActiveUpload[]) => void;
}
