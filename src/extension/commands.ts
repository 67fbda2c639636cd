// The table of every P2P command: its handler, what its failure is called, and which buttons that failure gets.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CommandSpec, registerCommands } from './command-runner';
import { ConnectionCommands } from './connection-commands';
import { DownloadCommand } from './download-command';
import { CommandId, Commands } from './view-model/ids';
import { Notifier } from './notifier';
import { PeerHost } from './peer-host';
import { Settings } from './settings';
import { ShareCommands } from './share-commands';
import { showStatusMenu } from './status-menu';
import { shareFolder } from './folder-share';
import { copyName, copySha256, openContainingFolder, revealInExplorer } from './row-commands';
import { ViewCommands } from './view-commands';
import type { ShareRow } from './view-model/tree-model';

export interface CommandServices {
  host: PeerHost;
  settings: Settings;
  notifier: Notifier;
  log: vscode.LogOutputChannel;
  /** Rows selected in My Shares (for the Delete key). */
  selectedShares: () => readonly ShareRow[];
}

/** A readable name for the thing a command was given, for its failure message. */
function subject(arg: unknown): string {
  if (typeof arg === 'string') return `"${path.basename(arg)}"`;
  if (arg && typeof arg === 'object') {
    const a = arg as { contentName?: unknown; fsPath?: unknown };
    if (typeof a.contentName === 'string') return `"${a.contentName}"`;
    if (typeof a.fsPath === 'string') return `"${path.basename(a.fsPath)}"`;
  }
  return 'the file';
}

export function registerAllCommands(s: CommandServices): vscode.Disposable[] {
  const shares = new ShareCommands(s.host, s.notifier, () => s.settings.current.askContentName);
  const download = new DownloadCommand(s.host, s.settings, s.log);
  const connection = new ConnectionCommands(s.host, s.settings, s.notifier);
  const views = new ViewCommands({
    shares,
    download,
    notifier: s.notifier,
    selectedShares: s.selectedShares,
    shareCount: () => s.host.shares.length,
    confirmAbove: () => s.settings.current.confirmDownloadAboveBytes,
  });
  const specs: Record<CommandId, CommandSpec> = {
    [Commands.registerFile]: { op: 'register', failure: ([a]) => `Could not register ${subject(a)}`, run: (...a) => shares.registerFile(...a) },
    [Commands.deregisterFile]: { op: 'deregister', failure: ([a]) => `Could not de-register ${subject(a)}`, run: (...a) => views.deregister(...a) },
    [Commands.quitSharing]: { op: 'deregister', failure: () => 'Could not quit sharing', run: (...a) => views.quitSharing(...a) },
    [Commands.download]: { op: 'download', failure: ([a]) => `Could not download ${a === undefined ? 'the content' : subject(a)}`, run: (...a) => views.download(...a) },
    [Commands.refresh]: { op: 'refresh', failure: () => 'Could not refresh the online list', run: () => connection.refresh() },
    [Commands.loadMore]: { op: 'refresh', failure: () => 'Could not load more of the online list', run: () => connection.loadMore() },
    [Commands.search]: { op: 'refresh', failure: () => 'Could not search the online content', run: (a) => connection.search(a) },
    [Commands.clearSearch]: { op: 'other', failure: () => 'Could not clear the search', run: async () => connection.clearSearch() },
    [Commands.setPeerName]: { op: 'peerName', failure: () => 'Could not set the peer name', run: (a) => connection.setPeerName(a) },
    [Commands.connect]: { op: 'connect', failure: () => 'Could not connect to the index server', run: (a) => connection.connect(a) },
    [Commands.startLocalServer]: { op: 'localServer', failure: () => 'Could not start the local index server', run: (a) => connection.startLocalServer(a) },
    [Commands.stopLocalServer]: { op: 'localServer', failure: () => 'Could not stop the local index server', run: () => connection.stopLocalServer() },
    [Commands.showLog]: { op: 'other', failure: () => 'Could not show the log', run: async () => s.log.show(true) },
    [Commands.statusMenu]: { op: 'other', failure: () => 'P2P action failed', run: () => showStatusMenu(s.host) },
    [Commands.deregisterSelected]: { op: 'deregister', failure: () => 'Could not de-register the selected files', run: () => views.deregisterSelected() },
    [Commands.shareFolder]: { op: 'register', failure: ([a]) => `Could not share ${subject(a)}`, run: (...a) => shareFolder(...a) },
    [Commands.downloadTo]: { op: 'download', failure: ([a]) => `Could not download ${a === undefined ? 'the content' : subject(a)}`, run: (...a) => views.downloadTo(...a) },
    [Commands.copyName]: { op: 'other', failure: () => 'Could not copy the name', run: (...a) => copyName(...a) },
    [Commands.copySha256]: { op: 'other', failure: () => 'Could not copy the SHA-256', run: (...a) => copySha256(...a) },
    [Commands.revealInExplorer]: { op: 'other', failure: ([a]) => `Could not reveal ${subject(a)}`, run: (...a) => revealInExplorer(...a) },
    [Commands.openContainingFolder]: { op: 'other', failure: ([a]) => `Could not open the folder of ${subject(a)}`, run: (...a) => openContainingFolder(...a) },
  };
  return registerCommands(s.notifier, specs);
}
