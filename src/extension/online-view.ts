// The "Online Content" view: a page of what the index lists (Load more for the next) or a search's hits, kept fresh by polling.
import * as vscode from 'vscode';
import { viewDescription } from './view-model/status-text';
import { toP2PError } from '../protocol/errors';
import { Commands, Views } from './view-model/ids';
import { labelText } from './view-model/inert-text';
import { PeerHost } from './peer-host';
import { Settings } from './settings';
import { SourceRow } from './view-model/tree-model';
import { ActionRow, HitRow, OnlineViewRow, buildOnlineRows } from './view-model/online-rows';
import { CLICKED } from './view-model/selection';
import { markStartup } from './startup-marks';

export type OnlineRow = OnlineViewRow | SourceRow;

export class OnlineView implements vscode.TreeDataProvider<OnlineRow>, vscode.Disposable {
  private rows: OnlineViewRow[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private readonly view: vscode.TreeView<OnlineRow>;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastPollError: string | undefined;
  private lastState: string | undefined;

  constructor(
    private readonly host: PeerHost,
    private readonly settings: Settings,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.view = vscode.window.createTreeView(Views.online, { treeDataProvider: this, showCollapseAll: true, canSelectMany: true });
    this.disposables.push(
      this.view,
      this.changeEmitter,
      host.onDidChangeOnline(() => this.rebuild()),
      host.onDidChangeState((state) => {
        this.rebuild();
        // Just connected (engine started, index back, another index): fetch the list at once.
        if (state === 'connected' && this.lastState !== 'connected') this.poll(true);
        this.lastState = state;
      }),
      // Own shares appear in the online list too: ask the index again when they change.
      host.onDidChangeShares(() => this.poll(true)),
      this.view.onDidChangeVisibility((e) => {
        if (e.visible) this.poll(true);
      }),
      settings.onDidChange((e) => {
        if (e.changed.has('refreshIntervalSeconds')) this.schedule();
      }),
    );
    this.rebuild();
    this.schedule();
  }

  private rebuild(): void {
    const snapshot = this.host.onlineSnapshot;
    if (snapshot.items.length > 0) markStartup('firstPage');
    this.rows = buildOnlineRows(snapshot, this.host.peerName);
    const h = this.host;
    const where = viewDescription({ state: h.state, indexAddress: h.indexAddress, reasonCode: h.stateError?.code, detail: h.stateDetail });
    this.view.description = snapshot.search && h.state === 'connected' ? `Search: ${labelText(snapshot.search.text)}` : where;
    this.changeEmitter.fire();
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.poll(false), this.settings.current.refreshIntervalSeconds * 1000);
  }

  /**
   * Background refresh. While connected it runs only when someone can see the list; while the index does
   * not answer it always runs, because a request is how the peer notices the index is back.
   */
  private poll(force: boolean): void {
    if (!this.host.current()) return;
    const probe = !force && this.host.state !== 'connected';
    if (!this.view.visible && !probe) return;
    this.host.refreshOnline().then(
      () => {
        this.lastPollError = undefined;
      },
      (err) => {
        // The state (status bar, welcome view) already tells the user; the log gets each new reason once.
        const message = toP2PError(err).message;
        if (message !== this.lastPollError) this.log.debug(`refreshing the online list: ${message}`);
        this.lastPollError = message;
      },
    );
  }

  getTreeItem(row: OnlineRow): vscode.TreeItem {
    if (row.kind === 'action') return actionItem(row);
    if (row.kind === 'hit') return this.hitItem(row);
    if (row.kind === 'content') {
      const item = rowItem(row, vscode.TreeItemCollapsibleState.Collapsed, row.contentName);
      item.iconPath = row.downloadable ? vscode.ThemeIcon.File : new vscode.ThemeIcon('circle-slash');
      item.resourceUri = contentUri(row.contentName);
      if (row.onlyYou) item.command = this.openOwn(row.contentName, row.sha256);
      else if (row.downloadable) item.command = { command: Commands.download, title: 'Download', arguments: [row, CLICKED] };
      return item;
    }
    const item = rowItem(row, vscode.TreeItemCollapsibleState.None, row.peerName);
    item.iconPath = new vscode.ThemeIcon(row.classic ? 'circle-slash' : row.own ? 'home' : 'account');
    // Nobody downloads from themselves: a click on this peer's own source shows the file it shares.
    if (row.own) item.command = this.openOwn(row.contentName, row.sha256);
    else if (!row.classic) item.command = { command: Commands.download, title: 'Download from This Peer', arguments: [row, CLICKED] };
    return item;
  }

  private hitItem(row: HitRow): vscode.TreeItem {
    const item = rowItem(row, vscode.TreeItemCollapsibleState.None, row.contentName);
    item.iconPath = row.downloadable ? vscode.ThemeIcon.File : new vscode.ThemeIcon('circle-slash');
    item.resourceUri = contentUri(row.contentName);
    // The hit names its version: the download takes exactly that one.
    if (row.downloadable) item.command = { command: Commands.download, title: 'Download', arguments: [{ contentName: row.contentName, sha256: row.sha256 }, CLICKED] };
    return item;
  }

  /** Opens this peer's own file for a content it shares, when it still shares that version. */
  private openOwn(contentName: string, sha256: string | undefined): vscode.Command | undefined {
    const share = this.host.shares.find((s) => s.contentName === contentName && (sha256 === undefined || s.sha256 === sha256));
    return share ? { command: 'vscode.open', title: 'Open File', arguments: [vscode.Uri.file(share.path)] } : undefined;
  }

  getChildren(row?: OnlineRow): OnlineRow[] {
    if (!row) {
      markStartup('firstChildren');
      if (this.rows.some((r) => r.kind === 'content')) markStartup('firstRows');
      return this.rows;
    }
    return row.kind === 'content' ? row.sources : [];
  }

  getParent(row: OnlineRow): OnlineRow | undefined {
    if (row.kind !== 'source') return undefined;
    return this.rows.find((c) => c.kind === 'content' && c.contentName === row.contentName);
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}

/** What every row of this view shows the same way; `spoken` is what a screen reader says before the description. */
interface RowText {
  id: string;
  label: string;
  description: string;
  tooltip: string;
  contextValue: string;
}

function rowItem(row: RowText, state: vscode.TreeItemCollapsibleState, spoken?: string): vscode.TreeItem {
  const item = new vscode.TreeItem(row.label, state);
  item.id = row.id;
  item.description = row.description;
  // The view model made the tooltip inert (escaped, no links), so it is safe as Markdown.
  item.tooltip = new vscode.MarkdownString(row.tooltip);
  item.contextValue = row.contextValue;
  if (spoken !== undefined) item.accessibilityInformation = { label: `${spoken}, ${row.description}` };
  return item;
}

/** A resource named like the content lets the file icon theme pick the icon by extension. */
function contentUri(contentName: string): vscode.Uri {
  return vscode.Uri.from({ scheme: 'p2p-content', path: `/${contentName}` });
}

/** Load more, the search header (Clear) and notices: a click runs the row's command. */
function actionItem(row: ActionRow): vscode.TreeItem {
  const item = rowItem(row, vscode.TreeItemCollapsibleState.None);
  item.iconPath = new vscode.ThemeIcon(row.icon === 'more' ? 'ellipsis' : row.icon === 'search' ? 'search' : 'info');
  if (row.command) item.command = { command: row.command, title: row.label };
  return item;
}
