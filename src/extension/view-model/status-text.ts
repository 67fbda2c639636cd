// The status bar item's text and tooltip for a connection state, without vscode.
import type { ConnectionState } from '../../peer/api';
import { plural } from '../../common/plural';
import { labelText, markdownText } from './inert-text';

export interface StatusFacts {
  state: ConnectionState;
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
      text = '$(sync~spin) P2P connecting…';
      break;
    default:
      text = '$(debug-disconnect) P2P offline';
  }
  const lines = [`**P2P Share**: ${STATE_WORDS[f.state]}`, ''];
  // The detail may quote an index server's or a peer's words.
  if (f.detail) lines.push(markdownText(f.detail), '');
  if (f.indexAddress) lines.push(`Index server: ${markdownText(f.indexAddress)}  `);
  if (f.peerName) lines.push(`Peer name: ${markdownText(f.peerName)}  `);
  if (f.listenPort) lines.push(`Content server: TCP port ${f.listenPort}  `);
  lines.push(`Sharing ${plural(f.shareCount, 'file')}  `);
  if (f.localServer) lines.push(`Local index server running on ${markdownText(f.localServer)}  `);
  lines.push('', 'Click for P2P actions.');
  return { text, tooltip: lines.join('\n'), warning: f.state === 'unreachable' };
}
