// The versions a download may take, as quick-pick entries: when peers disagree on a content's hash, the user chooses.
import { formatBytes, formatExactBytes } from '../../common/byte-units';
import { plural } from '../../common/plural';
import type { OnlineItem } from '../../peer/api';
import { rankVersions } from '../../peer/versions';
import { isClassicHash } from '../../protocol/classic';

/** One entry of the picker: only hex digits and numbers this peer computed, never a stranger's text. */
export interface VersionChoice {
  label: string;
  description: string;
  detail: string;
  sha256: string;
}

/**
 * The versions a download of `contentName` could take (sources other than this peer, with a hash,
 * only `fromPeer`'s when given), best first by the engine's rule. Fewer than two: nothing to ask.
 */
export function versionChoices(items: readonly OnlineItem[], ownPeerName: string, fromPeer?: string): VersionChoice[] {
  const usable = items.filter((i) => !isClassicHash(i.sha256) && i.peerName !== ownPeerName && (fromPeer === undefined || i.peerName === fromPeer));
  return rankVersions(usable).map((v) => ({
    label: v.sha256.slice(0, 12),
    description: `${formatBytes(v.size)} · ${plural(v.count, 'host')} · ${plural(v.sources.length, 'source')}`,
    detail: `SHA-256 ${v.sha256}, ${formatExactBytes(v.size)}`,
    sha256: v.sha256,
  }));
}
