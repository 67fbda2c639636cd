// Context-menu helpers on rows: Copy Name, Copy SHA-256, Reveal in Explorer, Open Containing Folder.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { P2PError } from '../protocol/errors';
import { isClassicHash } from '../protocol/classic';
import { rowsFromArgs } from './view-model/selection';

interface AnyRow {
  kind: string;
  id: string;
  contentName?: string;
  sha256?: string;
  path?: string;
}

function rowsOf(args: readonly unknown[], what: string): AnyRow[] {
  const rows = rowsFromArgs(args) as AnyRow[] | undefined;
  if (!rows || rows.length === 0) throw new P2PError('BAD_COMMAND', `${what} works on rows of the P2P views`);
  return rows;
}

/** One line per selected row, so a multi-selection copies as a list. */
export async function copyName(...args: unknown[]): Promise<string> {
  const text = rowsOf(args, 'Copy Name').map((r) => r.contentName ?? '').join('\n');
  await vscode.env.clipboard.writeText(text);
  vscode.window.setStatusBarMessage(vscode.l10n.t('$(copy) Copied'), 3000);
  return text;
}

export async function copySha256(...args: unknown[]): Promise<string> {
  const hashes = rowsOf(args, 'Copy SHA-256').map((r) => r.sha256);
  if (hashes.some((h) => typeof h !== 'string' || isClassicHash(h))) {
    throw new P2PError('BAD_COMMAND', 'a classic registration has no SHA-256 to copy');
  }
  const text = hashes.join('\n');
  await vscode.env.clipboard.writeText(text);
  vscode.window.setStatusBarMessage(vscode.l10n.t('$(copy) Copied'), 3000);
  return text;
}

function sharePath(args: readonly unknown[], what: string): vscode.Uri {
  const row = rowsOf(args, what)[0];
  if (row.kind !== 'share' || typeof row.path !== 'string') throw new P2PError('BAD_COMMAND', `${what} works on rows of My Shares`);
  return vscode.Uri.file(row.path);
}

/** Shows the shared file in the Explorer when it is inside the workspace; else in the OS file manager. */
export async function revealInExplorer(...args: unknown[]): Promise<void> {
  const uri = sharePath(args, 'Reveal in Explorer');
  if (vscode.workspace.getWorkspaceFolder(uri)) {
    await vscode.commands.executeCommand('revealInExplorer', uri);
    return;
  }
  await openContainingFolder(...args);
}

/** The OS file manager at the shared file (desktop VS Code; a browser-based one has no such thing). */
export async function openContainingFolder(...args: unknown[]): Promise<void> {
  const uri = sharePath(args, 'Open Containing Folder');
  const commands = await vscode.commands.getCommands(true);
  if (!commands.includes('revealFileInOS')) {
    throw new P2PError('IO', `this VS Code cannot open the operating system's file manager; the file is in ${path.dirname(uri.fsPath)}`);
  }
  await vscode.commands.executeCommand('revealFileInOS', uri);
}
