// Turns CLI events into the readable lines of human mode: tables for O, L and S, one line per failure.
import { formatBytes } from '../common/byte-units';
import { escapeControls } from '../common/control-escape';
import { plural } from '../common/plural';
import { formatAddress } from '../peer/address';
import type { OnlineItem } from '../peer/api';
import type { CliEvent, ShareJson } from './events';

/** Whole percent, never 100 before the last byte and never NaN for empty content. */
export function formatPercent(received: number, total: number): string {
  if (total <= 0 || received >= total) return '100%';
  return `${Math.min(99, Math.floor((received / total) * 100))}%`;
}

/** Left-aligned columns two spaces apart; the last column is not padded so lines carry no trailing blanks. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
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

export function formatOnline(items: readonly OnlineItem[]): string[] {
  if (items.length === 0) return ['no content is registered on the index server'];
  return [
    ...formatTable(
      ['CONTENT', 'PEER', 'SIZE', 'ADDRESS'],
      items.map((i) => [i.contentName, i.peerName, formatBytes(i.size), addressOf(i)]),
    ),
    plural(items.length, 'registration', 'registrations'),
  ];
}

export function formatLocal(shares: readonly ShareJson[]): string[] {
  if (shares.length === 0) return ['you have registered nothing; R <path> registers a file'];
  return formatTable(
    ['CONTENT', 'SIZE', 'PATH'],
    shares.map((s) => [s.contentName, formatBytes(s.size), s.path]),
  );
}

export function formatSources(contentName: string, items: readonly OnlineItem[]): string[] {
  return [
    `"${contentName}" is shared by ${plural(items.length, 'source', 'sources')}:`,
    ...formatTable(
      ['PEER', 'ADDRESS', 'SIZE', 'SHA-256'],
      items.map((i) => [i.peerName, addressOf(i), formatBytes(i.size), shortHash(i.sha256)]),
    ),
  ];
}

export function formatProgress(ev: Extract<CliEvent, { event: 'progress' }>): string {
  // The rate is unknown at the first report and the sources are released at the last: say nothing then.
  const rate = ev.bytesPerSecond > 0 ? ` at ${formatBytes(ev.bytesPerSecond)}/s` : '';
  const from = ev.sources > 0 ? ` from ${plural(ev.sources, 'source', 'sources')}` : '';
  return `downloading "${ev.contentName}": ${formatPercent(ev.received, ev.total)} (${formatBytes(ev.received)} of ${formatBytes(ev.total)})${rate}${from}`;
}

/**
 * The lines human mode prints for one event (none for events it does not show). Names and messages
 * may come from another peer or the index server: a newline in one must not make a second line, and
 * an escape sequence must not reach the terminal.
 */
export function formatHuman(ev: CliEvent): string[] {
  return eventLines(ev).map(escapeControls);
}

function eventLines(ev: CliEvent): string[] {
  switch (ev.event) {
    case 'ready':
      return [
        `peer "${ev.peerName}" is ready: index server ${ev.index}, content server on TCP port ${ev.port}, ` +
          `downloads go to ${ev.folder}`,
      ];
    case 'help':
      return formatTable(['COMMAND', 'WHAT IT DOES'], ev.commands.map((c) => [c.usage, c.description]));
    case 'online':
      return formatOnline(ev.items);
    case 'local':
      return formatLocal(ev.shares);
    case 'registered':
      return [`registered "${ev.share.contentName}" (${formatBytes(ev.share.size)}) from ${ev.share.path}`];
    case 'deregistered':
      return [`de-registered "${ev.contentName}"`];
    case 'sources':
      return formatSources(ev.contentName, ev.items);
    case 'progress':
      return [formatProgress(ev)];
    case 'downloaded': {
      const from = ev.sources.length > 0 ? ` from ${ev.sources.join(', ')}` : '';
      const resumed = ev.reused
        ? ', already complete in the folder'
        : ev.resumedFrom > 0
          ? `, resumed after ${formatBytes(ev.resumedFrom)}`
          : '';
      return [
        `saved "${ev.contentName}" to ${ev.path} (${formatBytes(ev.size)}, sha256 ${shortHash(ev.sha256)}${resumed})${from}`,
        ev.shared
          ? `you are now a source of "${ev.contentName}"`
          : `"${ev.contentName}" is not shared by you (downloads are not registered)`,
      ];
    }
    case 'peer-name':
      return [`your peer name is now "${ev.peerName}"`];
    case 'error':
      return [`error: ${ev.message}`];
    case 'state':
      // The engine's detail is a P2PError message naming the address it tried.
      if (ev.state === 'unreachable') return [`error: ${ev.detail ?? 'the index server is unreachable'}`];
      if (ev.state === 'connected') return ['the index server answers again'];
      return [];
    case 'bye':
      return ['bye'];
  }
}

/** The one-line menu a terminal shows at start; H shows the full table. */
export function shortMenuLine(): string {
  return 'O online  L yours  R <path> register  T de-register  D download  S sources  N rename  Q quit  H help';
}

/** The question human mode asks after a peer name clash; the next input line answers it. */
export function askPeerNameLine(peerName: string, pending: string): string {
  return `the peer name "${peerName}" is used by another peer; type another peer name to register "${pending}" (empty line: skip)`;
}
