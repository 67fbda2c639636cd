// The top rows of the "Online Content" view: the list's content rows or a search's hits, the search header and Load more; no vscode.
import { formatBytes, formatExactBytes } from '../../common/byte-units';
import { plural } from '../../common/plural';
import type { OnlineItem, SearchHit } from '../../peer/api';
import { isClassicHash } from '../../protocol/classic';
import { Commands, ContextValues } from './ids';
import { labelText, markdownText } from './inert-text';
import { ContentRow, buildOnlineTree } from './tree-model';

/** What the view shows: a slice of the list, or of a search when one is active (src/extension/online-cache.ts keeps it). */
export interface OnlineSnapshot {
  items: OnlineItem[];
  /** The index has more entries than shown, and the view may load them. */
  more: boolean;
  /** The view holds the most it will: Load more stopped. */
  capped: boolean;
  search?: { text: string; hits: SearchHit[]; more: boolean; capped: boolean };
}

/** A row that runs a command when clicked: Load more, or the search header (Clear). */
export interface ActionRow {
  kind: 'action';
  id: string;
  label: string;
  description: string;
  tooltip: string;
  contextValue: string;
  /** The command a click runs; undefined for a notice. */
  command?: string;
  icon: 'more' | 'search' | 'info';
}

/** One version of a content whose name contains the search text. */
export interface HitRow {
  kind: 'hit';
  id: string;
  contentName: string;
  sha256: string;
  size: number;
  sources: number;
  downloadable: boolean;
  label: string;
  description: string;
  tooltip: string;
  contextValue: string;
}

export type OnlineViewRow = ContentRow | ActionRow | HitRow;

function hitRow(hit: SearchHit): HitRow {
  const classic = isClassicHash(hit.sha256);
  const details = [plural(hit.sources, 'source'), classic ? 'classic, not downloadable' : formatBytes(hit.size)];
  if (!classic) details.push(hit.sha256.slice(0, 8));
  const lines = [`**${markdownText(hit.contentName)}**`, ''];
  if (classic) lines.push('Classic registration: no SHA-256 or size is known, so it cannot be downloaded here.');
  else {
    lines.push(`Size: ${formatBytes(hit.size)} (${formatExactBytes(hit.size)})  `, `SHA-256: ${markdownText(hit.sha256)}  `);
    lines.push(`Sources: ${hit.sources}`, '', 'Click to download this version.');
  }
  return {
    kind: 'hit',
    id: `hit:${hit.contentName}\u0000${hit.sha256}\u0000${hit.size}`,
    contentName: hit.contentName,
    sha256: hit.sha256,
    size: hit.size,
    sources: hit.sources,
    downloadable: !classic,
    label: labelText(hit.contentName),
    description: details.join(' · '),
    tooltip: lines.join('\n'),
    contextValue: classic ? ContextValues.classicHit : ContextValues.hit,
  };
}

/** What the view counts: entries of the list, or hits of a search. */
type Noun = 'entry' | 'hit';
const NOUNS: Record<Noun, [string, string]> = { entry: ['entry', 'entries'], hit: ['hit', 'hits'] };

function moreRow(shown: number, noun: Noun): ActionRow {
  return {
    kind: 'action',
    id: 'action:load-more',
    label: 'Load more…',
    description: `${plural(shown, ...NOUNS[noun])} shown`,
    tooltip: `The index server has more. Click to load the next ${NOUNS[noun][1]}.`,
    contextValue: ContextValues.loadMore,
    command: Commands.loadMore,
    icon: 'more',
  };
}

function cappedRow(shown: number, noun: Noun): ActionRow {
  return {
    kind: 'action',
    id: 'action:capped',
    label: `Showing the first ${plural(shown, ...NOUNS[noun])}`,
    description: 'search to narrow',
    tooltip: 'The view holds at most this many. Use Search in the view title to find content by name.',
    contextValue: ContextValues.notice,
    icon: 'info',
  };
}

/** The rows at the top of the view, in order: the list (content rows, sources beneath) or the search's hits. */
export function buildOnlineRows(snapshot: OnlineSnapshot, ownPeerName: string): OnlineViewRow[] {
  const search = snapshot.search;
  if (!search) {
    const rows: OnlineViewRow[] = buildOnlineTree(snapshot.items, ownPeerName);
    if (snapshot.more) rows.push(moreRow(snapshot.items.length, 'entry'));
    else if (snapshot.capped) rows.push(cappedRow(snapshot.items.length, 'entry'));
    return rows;
  }
  const header: ActionRow = {
    kind: 'action',
    id: 'action:search',
    label: `Search: ${labelText(search.text)}`,
    description: `${search.hits.length === 0 && !search.more ? 'no hits' : plural(search.hits.length, 'hit')} — Clear`,
    tooltip: `Content whose name contains ${markdownText(search.text)} (upper and lower case alike).\n\nClick to clear the search and show the online list again.`,
    contextValue: ContextValues.searchHeader,
    command: Commands.clearSearch,
    icon: 'search',
  };
  const rows: OnlineViewRow[] = [header, ...search.hits.map(hitRow)];
  if (search.more) rows.push(moreRow(search.hits.length, 'hit'));
  else if (search.capped) rows.push(cappedRow(search.hits.length, 'hit'));
  return rows;
}
