// Turns CLI events into the readable lines of human mode: tables for O, L and S, one line per failure.
import { formatBytes } from '../common/byte-units';
import { escapeInvisible } from '../common/control-escape';
import { plural } from '../common/plural';
import { formatAddress } from '../peer/address';
import type { OnlineItem, SearchHit } from '../peer/api';
import type { CliEvent, ShareJson } from './events';

/** Whole percent, never 100 before the last byte and never NaN for empty content. */
export function formatPercent(received: number, total: number): string {
  if (total <= 0 || received >= total) return '100%';
  return `${Math.min(99, Math.floor((received / total) * 100))}%`;
}

/** Terminal width when stdout is not a terminal. */
export const DEFAULT_COLUMNS = 80;
/** A cut column keeps at least this many characters, ellipsis included. */
const MIN_CUT_WIDTH = 8;

/** `text` in at most `width` characters, its end replaced by an ellipsis when cut. */
export function cutToWidth(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

function widthOf(text: string): number {
  return [...text].length;
}

/**
 * Left-aligned columns two spaces apart, fitted to `maxWidth` by cutting the widest column with an
 * ellipsis (a stranger's 128-character name must not push the table off the screen); the last column
 * is not padded so lines carry no trailing blanks.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], maxWidth = Infinity): string[] {
  const widths = headers.map((h, i) => Math.max(widthOf(h), ...rows.map((r) => widthOf(r[i] ?? ''))));
  const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  while (total() > maxWidth) {
    const widest = widths.indexOf(Math.max(...widths));
    const floor = Math.max(MIN_CUT_WIDTH, widthOf(headers[widest]));
    if (widths[widest] <= floor) break;
    widths[widest] = Math.max(floor, widths[widest] - (total() - maxWidth));
  }
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const cut = cutToWidth(c, widths[i]);
        return i === cells.length - 1 ? cut : cut + ' '.repeat(widths[i] - widthOf(cut));
      })
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

function addressOf(item: OnlineItem): string {
  return formatAddress({ host: item.host, port: item.port });
}

function shortHash(sha256: string): string {
  return sha256.length > 12 ? `${sha256.slice(0, 12)}…` : sha256;
}

export function formatOnline(items: readonly OnlineItem[], width = Infinity, more?: string): string[] {
  if (items.length === 0 && more === undefined) return ['no content is registered on the index server'];
  return [
    ...formatTable(
      ['CONTENT', 'PEER', 'SIZE', 'ADDRESS'],
      items.map((i) => [i.contentName, i.peerName, formatBytes(i.size), addressOf(i)]),
      width,
    ),
    `${plural(items.length, 'registration', 'registrations')}${more ? `; more: type ${more}` : ''}`,
  ];
}

export function formatFound(text: string, hits: readonly SearchHit[], width = Infinity, more?: string): string[] {
  if (hits.length === 0 && more === undefined) return [`no content name contains "${text}"`];
  return [
    ...formatTable(
      ['CONTENT', 'SIZE', 'SOURCES', 'SHA-256'],
      hits.map((h) => [h.contentName, formatBytes(h.size), String(h.sources), shortHash(h.sha256)]),
      width,
    ),
    `${plural(hits.length, 'hit', 'hits')} for "${text}"${more ? `; more: type ${more}` : ''}`,
  ];
}

export function formatLocal(shares: readonly ShareJson[], width = Infinity): string[] {
  if (shares.length === 0) return ['you have registered nothing; R <path> registers a file'];
  return formatTable(
    ['CONTENT', 'SIZE', 'PATH'],
    shares.map((s) => [s.contentName, formatBytes(s.size), s.path]),
    width,
  );
}

export function formatSources(contentName: string, items: readonly OnlineItem[], width = Infinity): string[] {
  return [
    `"${contentName}" is shared by ${plural(items.length, 'source', 'sources')}:`,
    ...formatTable(
      ['PEER', 'ADDRESS', 'SIZE', 'SHA-256'],
      items.map((i) => [i.peerName, addressOf(i), formatBytes(i.size), shortHash(i.sha256)]),
      width,
    ),
  ];
}

export function formatProgress(ev: Extract<CliEvent, { event: 'progress' }>): string {
  return escapeInvisible(progressLine(ev));
}

function progressLine(ev: Extract<CliEvent, { event: 'progress' }>): string {
  // The rate is unknown at the first report and the sources are released at the last: say nothing then.
  const rate = ev.bytesPerSecond > 0 ? ` at ${formatBytes(ev.bytesPerSecond)}/s` : '';
  const from = ev.sources > 0 ? ` from ${plural(ev.sources, 'source', 'sources')}` : '';
  return `downloading "${ev.contentName}": ${formatPercent(ev.received, ev.total)} (${formatBytes(ev.received)} of ${formatBytes(ev.total)})${rate}${from}`;
}

/**
 * The lines human mode prints for one event (none for events it does not show). Names and messages
 * may come from another peer or the index server: a newline in one must not make a second line, an
 * escape sequence must not reach the terminal and a bidi control must not reorder the line.
 */
export function formatHuman(ev: CliEvent, width = DEFAULT_COLUMNS): string[] {
  return eventLines(ev, width).map(escapeInvisible);
}

function eventLines(ev: CliEvent, width: number): string[] {
  switch (ev.event) {
    case 'ready':
      if (ev.indexProblem !== undefined) {
        return [
          `peer "${ev.peerName}" started, but ${ev.indexProblem}; O, R, S, D and N fail until it answers ` +
            `(content server on TCP port ${ev.port}, downloads go to ${ev.folder})`,
        ];
      }
      return [
        `peer "${ev.peerName}" is ready: index server ${ev.index}, content server on TCP port ${ev.port}, ` +
          `downloads go to ${ev.folder}`,
      ];
    case 'help':
      return formatTable(['COMMAND', 'WHAT IT DOES'], ev.commands.map((c) => [c.usage, c.description]));
    case 'online':
      return formatOnline(ev.items, width, ev.more);
    case 'found':
      return formatFound(ev.text, ev.hits, width, ev.more);
    case 'local':
      return formatLocal(ev.shares, width);
    case 'registered':
      return [`registered "${ev.share.contentName}" (${formatBytes(ev.share.size)}) from ${ev.share.path}`];
    case 'deregistered':
      return [`de-registered "${ev.contentName}"`];
    case 'sources':
      return formatSources(ev.contentName, ev.items, width);
    case 'progress':
      return [progressLine(ev)];
    case 'downloaded': {
      const from = ev.sources.length > 0 ? ` from ${ev.sources.join(', ')}` : '';
      const resumed = ev.reused
        ? ', already complete in the folder'
        : ev.resumedFrom > 0
          ? `, resumed after ${formatBytes(ev.resumedFrom)}`
          : '';
      const clear = ev.encrypted ? '' : ', not encrypted';
      const unchecked = ev.pieceChecked ? '' : ', whole-file check only: no source gave piece hashes';
      return [
        `saved "${ev.contentName}" to ${ev.path} (${formatBytes(ev.size)}, sha256 ${shortHash(ev.sha256)}${resumed}${clear}${unchecked})${from}`,
        ...ev.refused.map((s) => `dropped source ${s}: it sent data or piece hashes that did not verify`),
        ev.shared
          ? `you are now a source of "${ev.contentName}"`
          : `"${ev.contentName}" is not shared by you: ${ev.notShared ?? 'downloads are not registered'}`,
      ];
    }
    case 'peer-name':
      return [`your peer name is now "${ev.peerName}"`];
    case 'error':
      return [`error: ${ev.message}`];
    case 'state':
      // The engine's detail is a P2PError message naming the address it tried.
      if (ev.state === 'unreachable') return [`error: ${ev.detail ?? 'the index server is unreachable'}`];
      if (ev.state === 'connected') return [`the index server ${ev.detail ? `${ev.detail} ` : ''}answers again`];
      return [];
    case 'index':
      return [`index server ${ev.previous} stopped answering; now using ${ev.index}, where your shares are registered again`];
    case 'bye':
      return ['bye'];
  }
}

/** The one-line menu a terminal shows at start; H shows the full table. */
export function shortMenuLine(): string {
  return 'O online  L yours  R <path> register  T de-register  D download  S sources  F find  N rename  Q quit  H help';
}

/** The question human mode asks after a peer name clash; the next input line answers it. */
export function askPeerNameLine(peerName: string, pending: string): string {
  return escapeInvisible(`the peer name "${peerName}" is used by another peer; type another peer name to register "${pending}" (empty line: skip)`);
}
