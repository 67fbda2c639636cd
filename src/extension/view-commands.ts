// What the views add to the command table: many rows at once, the Delete key, Download to…, and asking before Quit Sharing or a large click.
import * as vscode from 'vscode';
import type { DownloadResult } from '../peer/api';
import { formatBytes } from '../common/byte-units';
import { plural } from '../common/plural';
import { dismissed } from './command-runner';
import type { DownloadCommand } from './download-command';
import type { Notifier } from './notifier';
import type { ShareCommands } from './share-commands';
import { clickNeedsConfirmation, folderFromArgs, isClick, rowsFromArgs, wantsConfirmation } from './view-model/selection';
import { notificationText } from './view-model/inert-text';
import type { ContentRow, ShareRow, SourceRow } from './view-model/tree-model';

export interface ViewCommandDeps {
  shares: ShareCommands;
  download: DownloadCommand;
  notifier: Notifier;
  /** Rows selected in My Shares right now (the Delete key has no other way to know). */
  selectedShares: () => readonly ShareRow[];
  /** How many files are shared now. */
  shareCount: () => number;
  /** p2p.confirmDownloadAboveBytes. */
  confirmAbove: () => number;
}

type OnlineRow = ContentRow | SourceRow;

export class ViewCommands {
  constructor(private readonly d: ViewCommandDeps) {}

  /** De-register File: one row, a name, nothing (a picker), or every row selected in My Shares. */
  async deregister(...args: unknown[]): Promise<void> {
    const rows = rowsFromArgs(args);
    if (!rows || rows.length < 2) return this.d.shares.deregisterFile(args[0]);
    await this.deregisterRows(rows as ShareRow[]);
  }

  /** The Delete key in My Shares. */
  async deregisterSelected(): Promise<void> {
    const rows = this.d.selectedShares();
    if (rows.length === 0) return;
    if (rows.length === 1) return this.d.shares.deregisterFile(rows[0]);
    await this.deregisterRows(rows);
  }

  private async deregisterRows(rows: readonly ShareRow[]): Promise<void> {
    // Each row on its own: one that fails (already gone, index away) must not keep the rest shared.
    for (const row of rows) {
      try {
        await this.d.shares.deregisterFile(row.contentName);
      } catch (err) {
        this.d.notifier.failure(err, { title: vscode.l10n.t('Could not de-register "{0}"', row.contentName), op: 'deregister' });
      }
    }
  }

  /** Download: a click (asks first above the size setting), one row, or every row selected in Online Content. */
  async download(...args: unknown[]): Promise<DownloadResult | (DownloadResult | undefined)[] | undefined> {
    const rows = rowsFromArgs(args) as OnlineRow[] | undefined;
    if (rows && rows.length > 1) return this.downloadRows(rows);
    if (isClick(args[1]) && rows) await this.confirmLarge(rows[0]);
    return this.d.download.run(args[0]);
  }

  /** Download to…: the rows (or a name) into a folder the user picks, or {folder} given after them. */
  async downloadTo(...args: unknown[]): Promise<(DownloadResult | undefined)[]> {
    const rows: unknown[] = (rowsFromArgs(args) as unknown[] | undefined) ?? (args[0] === undefined ? [] : [args[0]]);
    let folder = folderFromArgs(args);
    if (folder === undefined) {
      const picked = await vscode.window.showOpenDialog({
        title: vscode.l10n.t('Download to Folder'),
        openLabel: vscode.l10n.t('Download Here'),
        canSelectFiles: false,
        canSelectFolders: true,
        canSelectMany: false,
        defaultUri: vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri,
      });
      if (!picked || picked.length === 0) throw dismissed('no folder chosen');
      folder = picked[0].fsPath;
    }
    if (rows.length === 0) return [await this.d.download.run(undefined, { folder })];
    return this.downloadRows(rows, folder);
  }

  private async downloadRows(rows: readonly unknown[], folder?: string): Promise<(DownloadResult | undefined)[]> {
    // Side by side, each with its own progress; a failure is reported and the others go on.
    const settled = await Promise.allSettled(rows.map((r) => this.d.download.run(r, { folder })));
    return settled.map((s, i) => {
      if (s.status === 'fulfilled') return s.value;
      const name = (rows[i] as { contentName?: unknown })?.contentName;
      this.d.notifier.failure(s.reason, { title: vscode.l10n.t('Could not download "{0}"', String(name)), op: 'download' });
      return undefined;
    });
  }

  private async confirmLarge(row: OnlineRow): Promise<void> {
    const threshold = this.d.confirmAbove();
    if (!clickNeedsConfirmation(row.size, threshold)) return;
    const go = vscode.l10n.t('Download');
    const picked = await vscode.window.showWarningMessage(
      notificationText(vscode.l10n.t('Download "{0}" ({1})?', row.contentName, formatBytes(row.size))),
      {
        modal: true,
        detail: vscode.l10n.t(
          'It is larger than {0} (p2p.confirmDownloadAboveBytes). The size is what the peers claim; the download stops at p2p.maxDownloadBytes.',
          formatBytes(threshold),
        ),
      },
      go,
    );
    if (picked !== go) throw dismissed('large download not confirmed');
  }

  /** Quit Sharing asks first; {confirm: false} skips the question. */
  async quitSharing(...args: unknown[]): Promise<void> {
    const count = this.d.shareCount();
    if (count > 0 && wantsConfirmation(args)) {
      const quit = vscode.l10n.t('Quit Sharing');
      const picked = await vscode.window.showWarningMessage(
        vscode.l10n.t('Stop sharing {0}?', plural(count, 'file')),
        { modal: true, detail: vscode.l10n.t('Other peers can no longer download them from you. The files stay on your disk.') },
        quit,
      );
      if (picked !== quit) throw dismissed('quit sharing not confirmed');
    }
    return this.d.shares.quitSharing();
  }
}
