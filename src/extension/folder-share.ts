// Share Folder and drops on My Shares: every regular file under the folders given (links not followed), capped, asking first when many.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Share } from '../peer/api';
import { P2PError, toP2PError } from '../protocol/errors';
import { plural } from '../common/plural';
import { dismissed } from './command-runner';
import { DEFAULT_WALK_LIMITS, listFolderFiles } from './folder-walk';
import { Commands } from './view-model/ids';
import { registerPathsFrom } from './view-model/command-args';
import { CONFIRM_FILES_ABOVE, MAX_FILES_AT_ONCE, wantsConfirmation } from './view-model/selection';
import { notificationText } from './view-model/inert-text';

export interface FilesToShare {
  files: string[];
  skipped: number;
}

/** Files named directly stay as they are; folders give their regular files; links and the rest are skipped. */
export async function expandPaths(paths: readonly string[]): Promise<FilesToShare> {
  const files: string[] = [];
  let skipped = 0;
  for (const p of paths) {
    const st = await fsp.lstat(p).catch((err) => {
      throw toP2PError(err, `reading ${p}`);
    });
    if (st.isDirectory()) {
      const left = MAX_FILES_AT_ONCE - files.length;
      const found = await listFolderFiles(p, { ...DEFAULT_WALK_LIMITS, maxFiles: Math.max(0, left) });
      files.push(...found.files);
      skipped += found.skippedNames + found.skippedNotFiles;
    } else if (st.isFile()) {
      files.push(p);
    } else {
      skipped++;
    }
    if (files.length > MAX_FILES_AT_ONCE) {
      throw new P2PError('BAD_PATH', `more than ${MAX_FILES_AT_ONCE} files were chosen; share fewer at once`);
    }
  }
  return { files: [...new Set(files)], skipped };
}

/** Registers `paths` (files or folders) through Register File, after asking when there are many. */
export async function sharePaths(paths: readonly string[], confirm: boolean): Promise<Share[]> {
  const { files, skipped } = await expandPaths(paths);
  const from = paths.length === 1 ? path.basename(paths[0]) : plural(paths.length, 'item');
  if (files.length === 0) {
    void vscode.window.showInformationMessage(notificationText(vscode.l10n.t('{0} holds no regular file to share.', from)));
    return [];
  }
  if (confirm && files.length > CONFIRM_FILES_ABOVE) {
    const share = vscode.l10n.t('Share {0}', plural(files.length, 'file'));
    const picked = await vscode.window.showWarningMessage(
      notificationText(vscode.l10n.t('Share {0} from {1}?', plural(files.length, 'file'), from)),
      {
        modal: true,
        detail: vscode.l10n.t('Every peer on the index server will see their names and can download them. Symbolic links are not followed.'),
      },
      share,
    );
    if (picked !== share) throw dismissed('sharing many files not confirmed');
  }
  const shares = (await vscode.commands.executeCommand<Share[] | Share | undefined>(Commands.registerFile, undefined, files)) ?? [];
  if (skipped > 0) {
    vscode.window.setStatusBarMessage(vscode.l10n.t('$(info) {0} left out (links, special files, names that are not allowed or repeated)', plural(skipped, 'entry')), 8000);
  }
  return Array.isArray(shares) ? shares : [shares];
}

/** p2p.shareFolder: (uri, selectedUris) from the Explorer, a path from tests; {confirm: false} skips the question. */
export async function shareFolder(...args: unknown[]): Promise<Share[]> {
  const paths = registerPathsFrom(args.filter((a) => !(typeof a === 'object' && a !== null && 'confirm' in a)));
  if (!paths) {
    const picked = await vscode.window.showOpenDialog({
      title: vscode.l10n.t('Share Folder'),
      openLabel: vscode.l10n.t('Share'),
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
    });
    if (!picked || picked.length === 0) throw dismissed('no folder chosen');
    return sharePaths([picked[0].fsPath], wantsConfirmation(args));
  }
  return sharePaths(paths, wantsConfirmation(args));
}
