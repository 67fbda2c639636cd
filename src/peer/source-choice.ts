// Which version of a content to fetch, and from which of its listed sources: classic and own entries out, every address screened before any connect.
import { networkInterfaces } from 'node:os';
import { isClassicHash } from '../protocol/classic';
import { P2PError } from '../protocol/errors';
import { Source } from '../protocol/messages';
import type { LogLevel, OnlineItem } from './api';
import type { DownloadSource } from './download/downloader';
import { screenSources } from './download/source-check';
import { chooseVersion } from './versions';

/** What the caller asked for: a version by hash (or prefix) and a source by peer name, each optional. */
export interface SourceWish {
  wantHash?: string;
  fromPeer?: string;
}

/** What the choice needs to know of this peer. */
export interface SelfView {
  peerName: string;
  listenPort: number;
  /** The index's host: loopback sources are allowed only when the index is on loopback. */
  indexHost: string;
  /** Skip every source without a pin (it could only be reached in clear). */
  requireEncryption: boolean;
  log: (level: LogLevel, message: string) => void;
}

export interface PickedVersion {
  sha256: string;
  size: number;
  sources: DownloadSource[];
}

export function toItem(s: Source, contentName: string): OnlineItem {
  return { peerName: s.peerName, contentName, host: s.host, port: s.port, size: s.size, sha256: s.sha256.toString('hex') };
}

/** Every address of this machine's interfaces, to recognise this peer's own content server among sources. */
function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** The version to fetch (see chooseVersion in versions.ts) and its sources other than this peer, each address checked. */
export function pickSources(
contentName: string,
found: Source[],
wanted: SourceWish,
self: SelfView,
): PickedVersion {
const { wantHash, fromPeer } = wanted;
  if (found.length === 0) throw new P2PError('NOT_FOUND', `"${contentName}"`);
  const hashed = found.filter((s) => !isClassicHash(s.sha256.toString('hex')));
  const others = hashed.filter((s) => s.peerName !== self.peerName);
  const allowed = fromPeer === undefined ? others : others.filter((s) => s.peerName === fromPeer);
  if (allowed.length === 0) {
    if (fromPeer !== undefined && !found.some((s) => s.peerName === fromPeer)) {
      throw new P2PError('NOT_FOUND', `peer "${fromPeer}" does not share "${contentName}"`);
    }
    if (fromPeer === self.peerName || (hashed.length > 0 && others.length === 0)) {
      const classic = hashed.length < found.length ? ' (and classic peers, which do not serve this protocol)' : '';
      throw new P2PError('NO_SOURCES', `only this peer shares "${contentName}"${classic}`);
    }
    throw new P2PError(
      'NO_SOURCES',
      `"${contentName}" is shared only by classic peers${fromPeer !== undefined ? ` ("${fromPeer}")` : ''}, which do not serve this protocol's downloads`,
    );
  }
  // Before any version is counted or any socket opened: a hostile index may list any address.
  const rules = { indexHost: self.indexHost, ownPort: self.listenPort, localHosts: localAddresses() };
  const { kept, refused } = screenSources(allowed, rules);
  for (const r of refused) self.log('warn', `"${contentName}": skipping source "${r.source.peerName}": ${r.reason}`);
  if (kept.length === 0) {
    throw new P2PError('NO_SOURCES', `no source of "${contentName}" may be contacted: ${refused.map((r) => r.reason).join('; ')}`);
  }
  const usable = self.requireEncryption ? kept.filter((s) => s.claims?.pin !== undefined) : kept;
  if (usable.length < kept.length) {
    for (const s of kept) if (s.claims?.pin === undefined) self.log('warn', `"${contentName}": skipping source "${s.peerName}": it offers no encryption`);
  }
  if (usable.length === 0) throw new P2PError('NOT_ENCRYPTED', `"${contentName}": ${kept.map((s) => `"${s.peerName}"`).join(', ')} would send it in clear`);
  // Each source keeps its own pin through the choice: a pinned source is then dialled over TLS only.
  const chosen = chooseVersion(contentName, usable.map((s) => ({ ...toItem(s, contentName), pin: s.claims?.pin })), wantHash);
  return {
    sha256: chosen.sha256,
    size: chosen.size,
    // Each source keeps its pin (a pinned source is dialled over TLS only) and the piece root it claimed; the downloader decides which root to trust.
    sources: chosen.sources.map((s) => ({ peerName: s.peerName, host: s.host, port: s.port, pin: s.pin, pieceRoot: rootOf(kept, s) })),
  };
}

function rootOf(kept: readonly Source[], s: { peerName: string; host: string; port: number }): Buffer | undefined {
  return kept.find((k) => k.peerName === s.peerName && k.host === s.host && k.port === s.port)?.claims?.pieceRoot;
}
