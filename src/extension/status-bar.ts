// The status bar item: connection state, peer name and share count; a click opens the P2P actions.
import * as vscode from 'vscode';
import { Commands, STATUS_ITEM_ID } from './view-model/ids';
import { PeerHost } from './peer-host';
import { statusText } from './view-model/status-text';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly host: PeerHost) {
    this.item = vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Left, -100);
    this.item.name = 'P2P Share';
    this.item.command = Commands.statusMenu;
    this.disposables.push(
      this.item,
      host.onDidChangeState(() => this.update()),
      host.onDidChangeShares(() => this.update()),
      host.onDidChangeLocalServer(() => this.update()),
    );
    this.update();
    this.item.show();
  }

  private update(): void {
    const peer = this.host.current();
    const server = this.host.localServer;
    const s = statusText({
      state: this.host.state,
      peerName: this.host.peerName,
      shareCount: this.host.shares.length,
      indexAddress: this.host.indexAddress,
      listenPort: peer?.listenPort,
      detail: this.host.stateDetail,
      reasonCode: this.host.stateError?.code,
      localServer: server ? `${server.host}:${server.port}` : undefined,
    });
    this.item.text = s.text;
    this.item.tooltip = new vscode.MarkdownString(s.tooltip);
    this.item.backgroundColor = s.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.accessibilityInformation = { label: s.text.replace(/\$\([^)]*\)\s*/g, '') };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
