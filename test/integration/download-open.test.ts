// A finished download is shown the way it can be read: text in an editor, a binary or a very large file revealed, never a tab that cannot show it.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DownloadResult } from '../../src/peer/api';
import { MAX_TEXT_EDITOR_BYTES } from '../../src/extension/view-model/file-kind';
import { TerminalPeer } from './support/processes';
import { world } from './support/world';

/** Every editor tab open on `file`, in any group. */
function tabsOn(file: string): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .filter((t) => (t.input as { uri?: vscode.Uri } | undefined)?.uri?.fsPath === file);
}

suite('Opening a finished download', () => {
  let terminal: TerminalPeer;

  setup(async () => {
    ({ network: { terminal } } = await world.freshExtension());
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  /** The terminal peer shares `bytes` as `name`; the extension downloads it with the Download command. */
  async function download(name: string, bytes: Buffer): Promise<DownloadResult> {
    const dir = path.join(world.root, 'terminal-files');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    await terminal.register(file);
    const result = await vscode.commands.executeCommand<DownloadResult>('p2p.download', name);
    assert.ok(result, `the download of ${name} failed`);
    assert.ok(fs.readFileSync(result.path).equals(bytes), 'the saved file differs');
    return result;
  }

  test('a binary download is revealed, not opened in a tab that cannot show it', async () => {
    const bytes = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 0]), crypto.randomBytes(64 * 1024)]);
    const result = await download(`program-${process.pid}.bin`, bytes);
    assert.deepEqual(tabsOn(result.path), [], 'the binary download was opened in an editor tab');
  });

  test('a text download larger than an editor takes is revealed, not opened', async () => {
    const line = Buffer.from('a line of a very long log file\n');
    const bytes = Buffer.alloc(MAX_TEXT_EDITOR_BYTES + line.length);
    for (let at = 0; at < bytes.length; at += line.length) line.copy(bytes, at);
    const result = await download(`huge-${process.pid}.log`, bytes);
    assert.deepEqual(tabsOn(result.path), [], 'the very large text download was opened in an editor tab');
  });

  test('a small text download opens in a text editor', async () => {
    const result = await download(`readme-${process.pid}.txt`, Buffer.from('plain text, opened where it can be read\n'));
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, result.path);
  });
});
