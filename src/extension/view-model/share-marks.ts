// What a share shows beyond its row: the Explorer decoration of a shared file and who is downloading it, without vscode.
import type { ActiveUpload, Share } from '../../peer/api';
import { formatBytes } from '../../common/byte-units';
import { plural } from '../../common/plural';
import { labelText } from './inert-text';
import { percentOf } from './progress-text';

export interface ShareDecoration {
  badge: string;
  /** English; the caller localises it. */
  tooltip: string;
}

/**
 * The Explorer decoration of a shared file. Built from local facts only (size, how many are
 * downloading): a content name may come from a peer (a shared download keeps the name it came
 * with), and an Explorer tooltip is no place for a stranger's text, so neither names nor addresses go in.
 */
export function shareDecoration(share: Pick<Share, 'size'>, uploads: readonly ActiveUpload[]): ShareDecoration {
  const parts = [`Shared with P2P peers (${formatBytes(share.size)})`];
  if (uploads.length > 0) parts.push(`uploading to ${plural(uploads.length, 'peer')} now`);
  return { badge: uploads.length > 0 ? '↑' : 'P', tooltip: parts.join('; ') };
}

/** "uploading to 127.0.0.2 — 40%", or "uploading to 3 peers — 40%" (the furthest along); undefined when nobody is. */
export function uploadDescription(uploads: readonly ActiveUpload[]): string | undefined {
  if (uploads.length === 0) return undefined;
  const furthest = Math.max(...uploads.map((u) => percentOf(u.sent, u.size)));
  const who = uploads.length === 1 ? labelText(uploads[0].address) : plural(uploads.length, 'peer');
  return `uploading to ${who} — ${furthest}%`;
}
