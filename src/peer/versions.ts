// Which version of a content to fetch when peers share different files under one name: pure, shared by engine and views.
import { formatBytes } from '../common/byte-units';
import { plural } from '../common/plural';
import { P2PError } from '../protocol/errors';

/** What a source must say about itself to be counted for a version (an OnlineItem fits). */
export interface VersionedSource {
  peerName: string;
  host: string;
  port: number;
  /** Lower-case hex. */
  sha256: string;
  size: number;
}

/** One version of a content (same SHA-256 and size) and the sources that have it, in the order given. */
export interface Version<S extends VersionedSource> {
  sha256: string;
  size: number;
  sources: S[];
  /** How many distinct hosts vote for this version: see sourceIdentity. */
  count: number;
}

/** One version's identity: two sources have the same file when both hash and size agree. */
export function versionKey(v: { sha256: string; size: number }): string {
  return `${v.sha256}/${v.size}`;
}

/**
 * What makes two sources one vote: their host. Peer names cost nothing to make up, so three names
 * registered from one machine are one vote, not three (docs/security.md, "Versions of one content").
 */
function sourceIdentity(s: VersionedSource): string {
  return s.host.toLowerCase();
}

/** The sources grouped by (sha256, size), in the order each version first appears. */
export function groupVersions<S extends VersionedSource>(sources: readonly S[]): Array<Version<S>> {
  const groups = new Map<string, { version: Version<S>; voters: Set<string> }>();
  for (const s of sources) {
    const key = versionKey(s);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { version: { sha256: s.sha256, size: s.size, sources: [], count: 0 }, voters: new Set() }));
    g.version.sources.push(s);
    g.voters.add(sourceIdentity(s));
    g.version.count = g.voters.size;
  }
  return [...groups.values()].map((g) => g.version);
}

/**
 * Every version, best first: the most sources first; equal counts go to the lower hash, then the smaller
 * size, so the choice never depends on the order the index listed the sources (and never flickers between
 * refreshes of a view).
 */
export function rankVersions<S extends VersionedSource>(sources: readonly S[]): Array<Version<S>> {
  return groupVersions(sources).sort(
    (a, b) => b.count - a.count || (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : a.size - b.size),
  );
}

/** Shortest hash prefix a user may pin a version by: short enough to type, long enough not to collide by accident. */
export const MIN_HASH_PREFIX = 8;

/**
 * The versions whose SHA-256 starts with `prefix` (hex, any case, at least MIN_HASH_PREFIX digits or the
 * whole hash). More than one means the prefix is too short to choose.
 */
export function versionsByPrefix<S extends VersionedSource>(versions: readonly Version<S>[], prefix: string): Array<Version<S>> {
  const p = prefix.toLowerCase();
  return versions.filter((v) => v.sha256.startsWith(p));
}

/** True when `text` can pin a version: MIN_HASH_PREFIX to 64 hex digits. */
export function isHashPrefix(text: unknown): text is string {
  return typeof text === 'string' && text.length >= MIN_HASH_PREFIX && text.length <= 64 && /^[0-9a-f]+$/i.test(text);
}

/** The version a plain download takes (see rankVersions); undefined when there are no sources. */
export function mostCommonVersion<S extends VersionedSource>(sources: readonly S[]): Version<S> | undefined {
  return rankVersions(sources)[0];
}

/** "3fa2b9c1d0e4 (1.2 MiB, 2 hosts)": how a version is named to a person choosing one. */
export function describeVersion(v: Version<VersionedSource>): string {
  return `${v.sha256.slice(0, 12)} (${formatBytes(v.size)}, ${plural(v.count, 'host')})`;
}

/**
 * The version a download takes. With `pin` (a hash or prefix), the one version it names; without, the
 * only version there is. When sources disagree and nothing pins one, VERSIONS_DIFFER lists them, best
 * first: which file to trust is the user's call, not a count that made-up sources can sway.
 */
export function chooseVersion<S extends VersionedSource>(contentName: string, sources: readonly S[], pin?: string): Version<S> {
  const versions = rankVersions(sources);
  if (versions.length === 0) throw new P2PError('NOT_FOUND', `no peer shares "${contentName}"`);
  if (pin === undefined) {
    if (versions.length === 1) return versions[0];
    throw new P2PError('VERSIONS_DIFFER', `"${contentName}" has ${versions.length} versions: ${versions.map(describeVersion).join('; ')}`);
  }
  const matches = versionsByPrefix(versions, pin);
  if (matches.length === 0) throw new P2PError('NOT_FOUND', `no source shares "${contentName}" with a SHA-256 starting ${pin.toLowerCase()}`);
  if (matches.length > 1) {
    throw new P2PError('VERSIONS_DIFFER', `${pin.toLowerCase()} starts ${matches.length} versions of "${contentName}": ${matches.map(describeVersion).join('; ')}`);
  }
  return matches[0];
}
