// The "My Shares" view: this peer's registrations (the original's L), updated on every engine change.
import * as vscode from 'vscode';
import { Views } from './view-model/ids';
import { shareNote } from './view-model/status-text';
import { PeerHost } from './peer-host';
import { ShareRow, buildShareRows } from './view-model/tree-model';

export class SharesView implements vscode.TreeDataProvider<ShareRow>, vscode.Disposable {
  private rows: ShareRow[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private readonly view: vscode.TreeView<ShareRow>;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly host: PeerHost) {
    this.view = vscode.window.createTreeView(Views.shares, { treeDataProvider: this });
    this.disposables.push(this.view, this.changeEmitter, host.onDidChangeShares(() => this.rebuild()), host.onDidChangeState(() => this.rebuild()));
    this.rebuild();
  }

  private rebuild(): void {
    this.rows = buildShareRows(this.host.shares);
    this.changeEmitter.fire();
  }

  getTreeItem(row: ShareRow): vscode.TreeItem {
    const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
    const uri = vscode.Uri.file(row.path);
    item.id = row.id;
    const note = shareNote(this.host.state);
    item.description = note ? `${row.description} · ${note}` : row.description;
    item.tooltip = new vscode.MarkdownString(row.tooltip);
    item.contextValue = row.contextValue;
    item.iconPath = vscode.ThemeIcon.File;
    item.resourceUri = uri;
    item.command = { command: 'vscode.open', title: 'Open File', arguments: [uri] };
    return item;
  }

  getChildren(row?: ShareRow): ShareRow[] {
    return row ? [] : this.rows;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
