// The "My Shares" view: this peer's registrations (the original's L), updated on every engine change.
import * as vscode from 'vscode';
import { Views } from './view-model/ids';
import { shareNote } from './view-model/status-text';
import { PeerHost } from './peer-host';
import { ShareRow, buildShareRows } from './view-model/tree-model';

/** What the view shows and accepts beyond the engine's shares; each a narrow part of its own. */
export interface SharesViewExtras {
  dragAndDropController?: vscode.TreeDragAndDropController<ShareRow>;
  /** "uploading to 127.0.0.2 — 40%" for a share someone is downloading now. */
  uploadText?: (row: ShareRow) => string | undefined;
  onDidChangeUploads?: vscode.Event<void>;
}

export class SharesView implements vscode.TreeDataProvider<ShareRow>, vscode.Disposable {
  private rows: ShareRow[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private readonly view: vscode.TreeView<ShareRow>;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly host: PeerHost,
    private readonly extras: SharesViewExtras = {},
  ) {
    this.view = vscode.window.createTreeView(Views.shares, {
      treeDataProvider: this,
      canSelectMany: true,
      dragAndDropController: extras.dragAndDropController,
    });
    this.disposables.push(this.view, this.changeEmitter, host.onDidChangeShares(() => this.rebuild()), host.onDidChangeState(() => this.rebuild()));
    if (extras.onDidChangeUploads) this.disposables.push(extras.onDidChangeUploads(() => this.changeEmitter.fire()));
    this.rebuild();
  }

  /** The rows selected now (the Delete key acts on them). */
  get selection(): readonly ShareRow[] {
    return this.view.selection;
  }

  private rebuild(): void {
    this.rows = buildShareRows(this.host.shares);
    this.changeEmitter.fire();
  }

  getTreeItem(row: ShareRow): vscode.TreeItem {
    const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
    const uri = vscode.Uri.file(row.path);
    item.id = row.id;
    const notes = [shareNote(this.host.state), this.extras.uploadText?.(row)].filter((n): n is string => !!n);
    item.description = [row.description, ...notes].join(' · ');
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
