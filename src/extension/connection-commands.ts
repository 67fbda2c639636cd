// Connect, Start/Stop Local Index Server, Set Peer Name and Refresh: where this peer meets the index.
import * as vscode from 'vscode';
import type { ConnectionState, OnlineItem, SearchHit } from '../peer/api';
import { P2PError } from '../protocol/errors';
import { validatePeerName } from '../protocol/names';
import { MAX_NAME_BYTES } from '../protocol/messages';
import { dismissed } from './command-runner';
import { Notifier } from './notifier';
import type { HostPortText } from './local-index-server';
import { PeerHost } from './peer-host';
import { Settings } from './settings';
import { Commands } from './view-model/ids';
import { indexAddressProblem, parseIndexServer, peerNameProblem } from './view-model/settings-parse';

export class ConnectionCommands {
  constructor(
    private readonly host: PeerHost,
    private readonly settings: Settings,
    private readonly notifier: Notifier,
  ) {}

  async connect(arg?: unknown): Promise<{ index: string; state: ConnectionState }> {
    let text: string;
    if (arg === undefined || arg === null) {
      const typed = await vscode.window.showInputBox({
        title: 'Connect to Index Server',
        prompt: 'Address of the index server as host:port ([IPv6]:port for IPv6); saved in p2p.indexServer',
        value: this.settings.current.indexServer.text,
        ignoreFocusOut: true,
        validateInput: (v) => indexAddressProblem(v),
      });
      if (typed === undefined) throw dismissed('no address entered');
      text = typed;
    } else if (typeof arg === 'string') {
      text = arg;
    } else {
      throw new P2PError('BAD_COMMAND', 'p2p.connect expects an address such as "127.0.0.1:7870"');
    }
    const address = parseIndexServer(text).text;
    const result = await this.host.connect(address);
    // Offline is told by the move itself, with the engine's reason, and only while still true.
    if (result.state === 'connected') {
      vscode.window.setStatusBarMessage(`$(check) Connected to the index server at ${result.index}`, 5000);
    }
    return result;
  }

  async startLocalServer(arg?: unknown): Promise<HostPortText> {
    let port: unknown;
    if (typeof arg === 'number' || typeof arg === 'string') port = arg;
    else if (typeof arg === 'object' && arg !== null) port = (arg as { port?: unknown }).port;
    const address = await this.host.startLocalServer(port);
    vscode.window.setStatusBarMessage(`$(check) Local index server running on ${address.host}:${address.port}`, 5000);
    return address;
  }

  /** Stops it; when that leaves P2P on an index that does not answer, offers the previous one. */
  async stopLocalServer(): Promise<void> {
    const previous = await this.host.stopLocalServer();
    if (!previous) return;
    const back = `Switch to ${previous}`;
    // Not awaited: the command returns while the offer stays up.
    void vscode.window
      .showInformationMessage(
        `The local index server stopped. P2P now uses ${this.host.indexAddress} (p2p.indexServer), which does not answer.`,
        back,
        'Connect to Index Server…',
      )
      .then((picked) => {
        if (picked === back) return vscode.commands.executeCommand(Commands.connect, previous);
        if (picked) return vscode.commands.executeCommand(Commands.connect);
        return undefined;
      })
      .then(undefined, (err: unknown) => this.notifier.failure(err, { title: 'Could not switch the index server', op: 'connect' }));
  }

  async setPeerName(arg?: unknown): Promise<string> {
    let name: string;
    if (arg === undefined || arg === null) {
      const typed = await vscode.window.showInputBox({
        title: 'Set Peer Name',
        prompt: 'The name other peers see for your shares; saved in p2p.peerName',
        value: this.host.peerName,
        ignoreFocusOut: true,
        validateInput: (v) => peerNameProblem(v),
      });
      if (typed === undefined) throw dismissed('no peer name entered');
      name = typed;
    } else {
      name = validatePeerName(arg);
    }
    const now = await this.host.setPeerName(name);
    vscode.window.setStatusBarMessage(`$(check) Peer name is now ${now}`, 5000);
    return now;
  }

  refresh(): Promise<OnlineItem[]> {
    return this.host.refreshOnline();
  }

  loadMore(): Promise<void> {
    return this.host.loadMoreOnline();
  }

  /** Online Content shows content whose name contains the text (an argument, or typed in an input box); resolves to the hits shown. */
  async search(arg?: unknown): Promise<SearchHit[]> {
    let text: string;
    if (arg === undefined || arg === null) {
      const typed = await vscode.window.showInputBox({
        title: 'Search Online Content',
        prompt: 'Part of a content name; upper and lower case alike',
        value: this.host.onlineSnapshot.search?.text ?? '',
        validateInput: (v) => searchTextProblem(v),
      });
      if (typed === undefined) throw dismissed('no search text entered');
      text = typed;
    } else if (typeof arg === 'string') {
      text = arg;
    } else {
      throw new P2PError('BAD_COMMAND', 'p2p.search expects the text to find');
    }
    const problem = searchTextProblem(text);
    if (problem) throw new P2PError('BAD_COMMAND', problem);
    await this.host.searchOnline(text);
    return this.host.onlineSnapshot.search?.hits ?? [];
  }

  clearSearch(): void {
    this.host.clearOnlineSearch();
  }
}

/** Why a search text cannot be sent, or undefined: one F request carries at most a name's 255 bytes. */
export function searchTextProblem(text: string): string | undefined {
  if (text === '') return 'Type part of a content name';
  const bytes = Buffer.byteLength(text);
  return bytes > MAX_NAME_BYTES ? `The text is ${bytes} bytes; at most ${MAX_NAME_BYTES}` : undefined;
}
