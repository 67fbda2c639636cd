// The status bar item's text and tooltip for a connection state, without vscode.
import type { ConnectionState } from '../../peer/api';
import { plural } from '../../common/plural';
import type { ErrorCode } from '../../protocol/errors';
import { labelText, markdownText } from './inert-text';

/** System error names that say why an index cannot be reached, most telling first. */
const REASONS: ReadonlyArray<[RegExp, string]> = [
  [/\b(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL)\b/, 'host not found'],
  [/\bECONNREFUSED\b/, 'port closed'],
  [/\b(EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|ENETDOWN)\b/, 'no route to host'],
];

/**
 * Why the index cannot be reached, in a few words and the system's own name for it ("port closed
 * (ECONNREFUSED)"): the one wording the status bar, its tooltip, the views and the notification share.
 */
export function offlineReason(code: ErrorCode | undefined, detail: string | undefined): string {
  for (const [pattern, words] of REASONS) {
    const m = pattern.exec(detail ?? '');
    if (m) return `${words} (${m[0]})`;
  }
  return code === 'TIMEOUT' ? 'no answer' : 'cannot connect';
}

export interface StatusFacts {
  state: ConnectionState;
  /** The code of the error behind 'unreachable' (TIMEOUT, UNREACHABLE). */
  reasonCode?: ErrorCode;
  peerName?: string;
  shareCount: number;
  indexAddress?: string;
  listenPort?: number;
  /** Why the state is what it is (the engine's state detail or a start failure). */
  detail?: string;
  localServer?: string;
}

export interface StatusText {
  text: string;
  /** Markdown lines. */
  tooltip: string;
  /** True when the item should stand out (warning background). */
  warning: boolean;
}

const STATE_WORDS: Record<ConnectionState, string> = {
  connecting: 'connecting to the index server',
  connected: 'connected',
  unreachable: 'the index server does not answer',
  stopped: 'stopped',
};

export function statusText(f: StatusFacts): StatusText {
  let text: string;
  switch (f.state) {
    case 'connected':
      text = `$(radio-tower) ${f.peerName === undefined ? 'P2P' : labelText(f.peerName)} · ${f.shareCount} shared`;
      break;
    case 'connecting':
      text = f.indexAddress ? `$(sync~spin) Connecting to ${labelText(f.indexAddress)}…` : '$(sync~spin) P2P connecting…';
      break;
    case 'unreachable':
      text = `$(debug-disconnect) P2P offline: ${offlineReason(f.reasonCode, f.detail)}`;
      break;
    default:
      text = '$(error) P2P stopped';
  }
  const head =
    f.state === 'unreachable' && f.indexAddress
      ? `offline: the index server ${markdownText(f.indexAddress)} cannot be reached, ${offlineReason(f.reasonCode, f.detail)}`
      : STATE_WORDS[f.state];
  const lines = [`**P2P Share**: ${head}`, ''];
  // The detail may quote an index server's or a peer's words.
  if (f.detail) lines.push(markdownText(f.detail), '');
  if (f.indexAddress) lines.push(`Index server: ${markdownText(f.indexAddress)}  `);
  if (f.peerName) lines.push(`Peer name: ${markdownText(f.peerName)}  `);
  if (f.listenPort) lines.push(`Content server: TCP port ${f.listenPort}  `);
  lines.push(`Sharing ${plural(f.shareCount, 'file')}  `);
  if (f.localServer) lines.push(`Local index server running on ${markdownText(f.localServer)}  `);
  lines.push('', 'Click for P2P actions.');
  return { text, tooltip: lines.join('\n'), warning: f.state === 'unreachable' || f.state === 'stopped' };
}

/** The Online Content view's title description: where it lists from, or why it cannot. */
export function viewDescription(f: Pick<StatusFacts, 'state' | 'indexAddress' | 'reasonCode' | 'detail'>): string | undefined {
  if (!f.indexAddress) return undefined;
  switch (f.state) {
    case 'connected':
      return f.indexAddress;
    case 'connecting':
      return `connecting to ${f.indexAddress}…`;
    case 'unreachable':
      return `offline: ${f.indexAddress}, ${offlineReason(f.reasonCode, f.detail)}`;
    default:
      return undefined;
  }
}

/** What a share row adds while the index does not hold it: shares register again once it answers. */
export function shareNote(state: ConnectionState): string | undefined {
  return state === 'connected' ? undefined : 'not registered (offline)';
}

/** The one notification of a move that ended offline; it says what the status bar says. */
export function offlineNotice(address: string, code: ErrorCode | undefined, detail: string | undefined): string {
  return `P2P is offline: the index server ${address} cannot be reached, ${offlineReason(code, detail)}. P2P keeps trying; your shares register there once it answers.`;
}
