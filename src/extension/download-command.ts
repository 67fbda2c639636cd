// Download: fetches a content with a cancellable progress notification, then opens it in the editor.
import { promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import type { DownloadResult } from '../peer/api';
import { P2PError, toP2PError } from '../protocol/errors';
import { formatBytes } from '../common/byte-units';
import { DownloadTarget, downloadTargetFrom } from './view-model/command-args';
import { CommandFailure, dismissed } from './command-runner';
import { SNIFF_BYTES, showAs } from './view-model/file-kind';
import { downloadStopped } from './view-model/error-actions';
import { PeerHost } from './peer-host';
import { ProgressReporter } from './view-model/progress-text';
import { Settings } from './settings';
import { buildOnlineTree } from './view-model/tree-model';
import { labelText, notificationText } from './view-model/inert-text';
import { versionChoices } from './view-model/version-pick';
import { Views } from './view-model/ids';

export interface DownloadOverrides {
  /** Download to… saves here instead of p2p.downloadFolder. */
  folder?: string;
}

export class DownloadCommand {
  constructor(
    private readonly host: PeerHost,
    private readonly settings: Settings,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async run(arg?: unknown, overrides: DownloadOverrides = {}): Promise<DownloadResult | undefined> {
    const target = downloadTargetFrom(arg) ?? (await this.pick());
    const peer = await this.host.ready();
    const { shareDownloads, maxDownloadBytes, requireEncryption } = this.settings.current;
    const downloadFolder = overrides.folder ?? this.settings.current.downloadFolder;
    target.sha256 ??= await this.pickVersion(target.contentName, target.fromPeer);
    const from = target.fromPeer ? ` from ${target.fromPeer}` : '';
    const failure = `Could not download "${target.contentName}"${from}`;
    // The engine makes the folder inside the progress, under a time limit: a bad folder never hangs a click.
    let last: { received: number; total: number } | undefined;
    let result: DownloadResult;
    try {
      // The Online Content view shows that something is on its way too, not only the notification.
      result = await vscode.window.withProgress({ location: { viewId: Views.online } }, () => vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: notificationText(`Downloading ${target.contentName}${from}`), cancellable: true },
        async (progress, token) => {
          const abort = new AbortController();
          const onCancel = token.onCancellationRequested(() => abort.abort());
          const reporter = new ProgressReporter();
          progress.report({ message: 'looking for sources…' });
          try {
            return await peer.download(target.contentName, {
              folder: downloadFolder,
              sha256: target.sha256,
              fromPeer: target.fromPeer,
              share: shareDownloads,
              maxBytes: maxDownloadBytes,
              requireEncryption,
              signal: abort.signal,
              onProgress: (p) => {
                last = p;
                const step = reporter.next(p);
                if (step) progress.report(step);
              },
            });
          } finally {
            onCancel.dispose();
          }
        },
      ));
    } catch (err) {
      const e = toP2PError(err);
      if (e.code === 'CANCELLED') {
        vscode.window.setStatusBarMessage(labelText(`Download of ${target.contentName} cancelled; the partial file is kept to resume later`), 5000);
        this.log.info(`download of "${target.contentName}" cancelled`);
        return undefined;
      }
      throw new CommandFailure(failure, downloadStopped(e, target.contentName, last), 'download');
    }

    const sources = result.sources.length > 0 ? ` from ${result.sources.join(', ')}` : '';
    const shared = result.shared ? '; now shared' : '';
    // Said plainly: bytes from a peer without a pin crossed the network readable by anyone on the path.
    const clear = result.unencrypted.length > 0 ? ', not encrypted' : '';
    const unchecked = result.pieceChecked ? '' : ', whole-file check only';
    if (result.reused) {
      this.log.info(`"${result.contentName}" was already complete at ${result.path}${shared}`);
      vscode.window.setStatusBarMessage(`$(check) ${labelText(`${result.contentName} was already downloaded`)}`, 8000);
    } else {
      this.log.info(`saved "${result.contentName}" (${result.size} bytes${clear}${unchecked})${sources} to ${result.path}${shared}`);
      vscode.window.setStatusBarMessage(`$(check) ${labelText(`Downloaded ${result.contentName} (${formatBytes(result.size)}${clear}${unchecked})${sources}`)}`, 8000);
    }
    await this.open(result.path);
    return result;
  }

  /** Quick pick of what can be downloaded, from a fresh online list. */
  private async pick(): Promise<DownloadTarget> {
    const peerName = this.host.peerName;
    const items = this.host.refreshOnline().then((list) => {
      const rows = buildOnlineTree(list, peerName).filter((r) => r.downloadable);
      if (rows.length === 0) {
        throw new P2PError('NOT_FOUND', 'nothing that can be downloaded is online right now');
      }
      return rows.map((r) => ({ label: r.label, description: r.description, row: r }));
    });
    // An error while the picker is busy must reach the caller, not stay unhandled in the picker.
    items.catch(() => undefined);
    let picked: Awaited<typeof items>[number] | undefined;
    try {
      picked = await vscode.window.showQuickPick(items, {
        title: 'Download',
        placeHolder: 'Content to download',
        matchOnDescription: true,
      });
    } catch {
      // The picker fails when its items do; that failure is rethrown just below with its own code.
    }
    await items;
    if (!picked) throw dismissed('no content chosen');
    return { contentName: picked.row.contentName, sha256: picked.row.versions > 1 ? undefined : picked.row.sha256 };
  }

  /**
   * When peers share different files under the name, asks which one (size, hash prefix, hosts); the
   * engine would refuse to guess. Undefined when there is one version, or none (the download says why).
   */
  private async pickVersion(contentName: string, fromPeer?: string): Promise<string | undefined> {
    const peer = await this.host.ready();
    const choices = versionChoices(await peer.search(contentName), peer.peerName, fromPeer);
    if (choices.length < 2) return undefined;
    const picked = await vscode.window.showQuickPick(choices, {
      title: `${contentName}: ${choices.length} versions`,
      placeHolder: 'Peers share different files under this name; which one?',
      matchOnDescription: true,
      matchOnDetail: true,
    });
    if (!picked) throw dismissed('no version chosen');
    return picked.sha256;
  }

  /** Text opens in a text editor, images in VS Code's image editor; anything else is revealed in the file manager. */
  private async open(filePath: string): Promise<void> {
    const uri = vscode.Uri.file(filePath);
    try {
      const handle = await fsp.open(filePath, 'r');
      let how: ReturnType<typeof showAs>;
      try {
        const size = (await handle.stat()).size;
        const sample = Buffer.alloc(Math.min(SNIFF_BYTES, size));
        const { bytesRead } = await handle.read(sample, 0, sample.length, 0);
        how = showAs(filePath, size, sample.subarray(0, bytesRead), bytesRead >= size);
      } finally {
        await handle.close();
      }
      if (how === 'text') {
        const doc = await vscode.workspace.openTextDocument(uri);
        await vscode.window.showTextDocument(doc, { preview: false });
      } else if (how === 'editor') {
        await vscode.commands.executeCommand('vscode.open', uri);
      } else {
        // A browser (code-server) has no OS file manager: the Explorer then.
        await vscode.commands.executeCommand('revealFileInOS', uri).then(undefined, () => vscode.commands.executeCommand('revealInExplorer', uri));
      }
    } catch (err) {
      // The download itself succeeded; not being able to show it is worth a log line, not an error.
      this.log.warn(`could not open ${filePath}: ${toP2PError(err).message}`);
    }
  }
}
