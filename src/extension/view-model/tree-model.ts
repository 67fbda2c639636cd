// Rows of the "Online Content" and "My Shares" views, built from the engine's lists without vscode.
import { formatBytes, formatExactBytes } from '../../common/byte-units';
import { plural } from '../../common/plural';
import type { OnlineItem, Share } from '../../peer/api';
import { formatAddress } from '../../peer/address';
import { rankVersions, versionKey } from '../../peer/versions';
import { isClassicHash } from '../../protocol/classic';
import { ContextValues } from './ids';
import { labelText, markdownText } from './inert-text';

export interface SourceRow {
  kind: 'source';
  /** Stable id, so VS Code keeps the row's selection and expansion across refreshes. */
  id: string;
  contentName: string;
  peerName: string;
  address: string;
  size: number;
  sha256: string;
  own: boolean;
  classic: boolean;
  label: string;
  description: string;
  /** Markdown. */
  tooltip: string;
  contextValue: string;
}

export interface ContentRow {
  kind: 'content';
  id: string;
  contentName: string;
  /** Best first: downloadable before classic, then by peer name. */
  sources: SourceRow[];
  /** The version most sources have (what a plain download picks); undefined when all are classic. */
  sha256?: string;
  size: number;
  /** Distinct (hash, size) pairs among the downloadable sources. */
  versions: number;
  downloadable: boolean;
  sharedByYou: boolean;
  /** Every source with a hash is this peer: nothing to download, the file is already here. */
  onlyYou: boolean;
  label: string;
  description: string;
  tooltip: string;
  contextValue: string;
}

export interface ShareRow {
  kind: 'share';
  id: string;
  contentName: string;
  path: string;
  size: number;
  sha256: string;
  label: string;
  description: string;
  tooltip: string;
  contextValue: string;
}

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });


function addressOf(item: OnlineItem): string {
  try {
    return formatAddress({ host: item.host, port: item.port });
  } catch {
    return `${item.host}:${item.port}`;
  }
}

function sourceRow(item: OnlineItem, ownPeerName: string, showHash: boolean): SourceRow {
  const classic = isClassicHash(item.sha256);
  const own = item.peerName === ownPeerName;
  const address = addressOf(item);
  const details: string[] = [classic ? 'classic, not downloadable' : formatBytes(item.size)];
  if (showHash && !classic) details.push(item.sha256.slice(0, 8));
  const description = details.join(' · ') + (own ? ' (you)' : '');
  const lines = [
    `**${markdownText(item.peerName)}**${own ? ' (you)' : ''} shares **${markdownText(item.contentName)}**`,
    '',
    `Address: ${markdownText(address)}  `,
  ];
  if (classic) {
    lines.push(
      '',
      'Classic registration: the index server knows no SHA-256 or size for it, so it cannot be downloaded here.',
    );
  } else {
    lines.push(`Size: ${formatBytes(item.size)} (${formatExactBytes(item.size)})  `, `SHA-256: ${markdownText(item.sha256)}`);
    lines.push('', own ? 'This is your own share; click to open it.' : 'Click to download from this peer only.');
  }
  return {
    kind: 'source',
    id: `source:${item.contentName}\u0000${item.peerName}`,
    contentName: item.contentName,
    peerName: item.peerName,
    address,
    size: item.size,
    sha256: item.sha256,
    own,
    classic,
    label: labelText(item.peerName),
    description,
    tooltip: lines.join('\n'),
    contextValue: classic ? ContextValues.classicSource : ContextValues.source,
  };
}

function contentRow(name: string, items: OnlineItem[], ownPeerName: string): ContentRow {
  const downloadable = items.filter((i) => !isClassicHash(i.sha256));
  // Best first, by the engine's own rule, so the row shows what a plain download would fetch.
  const versions = rankVersions(downloadable);
  const main = versions[0];
  const sources = items
    .map((i) => sourceRow(i, ownPeerName, versions.length > 1))
    .sort(
      (a, b) =>
        Number(a.classic) - Number(b.classic) ||
        Number(main !== undefined && versionKey(b) === versionKey(main)) - Number(main !== undefined && versionKey(a) === versionKey(main)) ||
        collator.compare(a.peerName, b.peerName) ||
        (a.peerName < b.peerName ? -1 : a.peerName > b.peerName ? 1 : 0) ||
        collator.compare(a.address, b.address),
    );

  const parts = [plural(items.length, 'source')];
  if (main) parts.push(formatBytes(main.size));
  else parts.push('classic, not downloadable');
  if (versions.length > 1) parts.push(plural(versions.length, 'version'));

  const lines = [`**${markdownText(name)}**`, ''];
  if (main) {
    lines.push(`Size: ${formatBytes(main.size)} (${formatExactBytes(main.size)})  `, `SHA-256: ${markdownText(main.sha256)}  `);
  }
  lines.push(`Sources: ${sources.map((s) => `${markdownText(s.peerName)}${s.own ? ' (you)' : ''} ${markdownText(s.address)}`).join(', ')}`);
  if (versions.length > 1) {
    lines.push('', `Peers share ${versions.length} different versions under this name; a download asks which one to take.`);
    for (const v of versions) lines.push(`- ${markdownText(v.sha256.slice(0, 16))}… ${formatBytes(v.size)}, ${plural(v.count, 'host')}`);
  }
  const classicCount = items.length - downloadable.length;
  const onlyYou = downloadable.length > 0 && downloadable.every((i) => i.peerName === ownPeerName);
  if (!main) {
    lines.push('', 'Classic registration: no SHA-256 or size is known, so it cannot be downloaded here.');
  } else {
    if (classicCount > 0) lines.push('', `${plural(classicCount, 'classic source')} without a hash cannot be used.`);
    lines.push('', onlyYou ? 'Only you share this; click to open your file.' : 'Click to download.');
  }

  return {
    kind: 'content',
    id: `content:${name}`,
    contentName: name,
    sources,
    sha256: main?.sha256,
    size: main?.size ?? 0,
    versions: versions.length,
    downloadable: main !== undefined,
    sharedByYou: items.some((i) => i.peerName === ownPeerName),
    onlyYou,
    label: labelText(name),
    description: parts.join(' · '),
    tooltip: lines.join('\n'),
    contextValue: main ? ContextValues.content : ContextValues.classicContent,
  };
}

/** Groups the online list by content name (sorted as a person reads them) with each content's sources beneath. */
export function buildOnlineTree(items: readonly OnlineItem[], ownPeerName: string): ContentRow[] {
  const byName = new Map<string, OnlineItem[]>();
  const seen = new Set<string>();
  for (const item of items) {
    // A page boundary can repeat an entry; one row per (content, peer) is what the index holds.
    const key = `${item.contentName}\u0000${item.peerName}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const list = byName.get(item.contentName);
    if (list) list.push(item);
    else byName.set(item.contentName, [item]);
  }
  return [...byName.entries()]
    .map(([name, list]) => contentRow(name, list, ownPeerName))
    .sort((a, b) => collator.compare(a.contentName, b.contentName) || (a.contentName < b.contentName ? -1 : 1));
}

export function buildShareRows(shares: readonly Share[]): ShareRow[] {
  return [...shares]
    .sort((a, b) => collator.compare(a.contentName, b.contentName) || (a.contentName < b.contentName ? -1 : 1))
    .map((s) => ({
      kind: 'share' as const,
      id: `share:${s.contentName}`,
      contentName: s.contentName,
      path: s.path,
      size: s.size,
      sha256: s.sha256,
      label: labelText(s.contentName),
      description: formatBytes(s.size),
      tooltip: [
        `**${markdownText(s.contentName)}**`,
        '',
        `Path: ${markdownText(s.path)}  `,
        `Size: ${formatBytes(s.size)} (${formatExactBytes(s.size)})  `,
        `SHA-256: ${markdownText(s.sha256)}  `,
        `Registered: ${formatTime(s.registeredAt)}`,
        '',
        'Click to open the file.',
      ].join('\n'),
      contextValue: ContextValues.share,
    }));
}

function formatTime(d: Date | string | number | undefined): string {
  const date = d instanceof Date ? d : d === undefined ? undefined : new Date(d);
  if (!date || Number.isNaN(date.getTime())) return 'unknown';
  return date.toLocaleString();
}
