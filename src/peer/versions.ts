// Which version of a content to fetch when peers share different files under one name: pure, shared by engine and views.

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
  /** How many sources vote for this version: see sourceIdentity. */
  count: number;
}

/** One version's identity: two sources have the same file when both hash and size agree. */
export function versionKey(v: { sha256: string; size: number }): string {
  return `${v.sha256}/${v.size}`;
}

/**
 * What makes two sources one vote. The peer name today (the index holds one entry per content and peer);
 * counting by address instead is this one line.
 */
function sourceIdentity(s: VersionedSource): string {
  return s.peerName;
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

/** The version a plain download takes (see rankVersions); undefined when there are no sources. */
export function mostCommonVersion<S extends VersionedSource>(sources: readonly S[]): Version<S> | undefined {
  return rankVersions(sources)[0];
}
