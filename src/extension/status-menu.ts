// The status bar item's click: a quick pick of the main P2P actions that apply right now.
import * as vscode from 'vscode';
import { Commands } from './view-model/ids';
import { PeerHost } from './peer-host';
import { openSettings } from './settings';
import { dismissed } from './command-runner';

interface Action extends vscode.QuickPickItem {
  run: () => Thenable<unknown>;
}

export async function showStatusMenu(host: PeerHost): Promise<unknown> {
  const connected = host.state === 'connected';
  const hasShares = host.shares.length > 0;
  const server = host.localServer;
  const run = (command: string) => () => vscode.commands.executeCommand(command);
  const actions: (Action | undefined)[] = [
    { label: '$(add) Register File…', run: run(Commands.registerFile) },
    connected ? { label: '$(cloud-download) Download…', run: run(Commands.download) } : undefined,
    { label: '$(refresh) Refresh Online Content', run: run(Commands.refresh) },
    hasShares ? { label: '$(close) De-register File…', run: run(Commands.deregisterFile) } : undefined,
    hasShares ? { label: '$(circle-slash) Quit Sharing', description: 'de-register every file', run: run(Commands.quitSharing) } : undefined,
    { label: '$(person) Set Peer Name…', description: host.peerName, run: run(Commands.setPeerName) },
    { label: '$(plug) Connect to Index Server…', description: host.indexAddress, run: run(Commands.connect) },
    server
      ? { label: '$(debug-stop) Stop Local Index Server', description: `${server.host}:${server.port}`, run: run(Commands.stopLocalServer) }
      : { label: '$(server-process) Start Local Index Server', run: run(Commands.startLocalServer) },
    { label: '$(output) Show Log', run: run(Commands.showLog) },
    { label: '$(gear) Open Settings', run: () => openSettings() },
  ];
  const picked = await vscode.window.showQuickPick(
    actions.filter((a): a is Action => a !== undefined),
    { title: `P2P Share: ${host.peerName} on ${host.indexAddress} (${host.state})`, placeHolder: 'Choose an action' },
  );
  if (!picked) throw dismissed('no action chosen');
  return picked.run();
}
