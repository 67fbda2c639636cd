// The views' affordances through the VS Code API: every new command exists and works on several rows at once, drops share, folders share without links.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Peer } from '../../src/peer';
import type { ActiveUpload, DownloadResult, Share } from '../../src/peer/api';
import { SharesDragAndDrop } from '../../src/extension/drag-drop';
import { sharePaths } from '../../src/extension/folder-share';
import { Commands } from '../../src/extension/view-model/ids';
import { buildOnlineTree, buildShareRows } from '../../src/extension/view-model/tree-model';
import { TerminalPeer } from './support/processes';
import { contentNames, EXTENSION_PEER_NAME, eventually, world } from './support/world';

suite('View affordances', () => {
  let peer: Peer;
  let terminal: TerminalPeer;

  setup(async () => {
    ({ peer, network: { terminal } } = await world.freshExtension());
  });

  test('every affordance command is registered', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    for (const id of Object.values(Commands)) assert.ok(all.has(id), `${id} is not registered`);
  });

  test('De-register File on a multi-selection of My Shares de-registers exactly the selected rows', async () => {
    const files = ['multi-a', 'multi-b', 'multi-c'].map((s) => world.workspaceFile(s));
    for (const f of files) await vscode.commands.executeCommand('p2p.registerFile', f.uri);
    const rows = buildShareRows(peer.listLocal());
    const [a, b] = rows.filter((r) => r.contentName === files[0].contentName || r.contentName === files[1].contentName);

    // What VS Code passes from the context menu of a multi-selection: the clicked row, then every selected row.
    await vscode.commands.executeCommand(Commands.deregisterFile, b, [a, b]);

    assert.deepEqual(contentNames(peer.listLocal()), [files[2].contentName]);
  });

  test('Download on a multi-selection of Online Content downloads every selected content', async () => {
    const files = [world.terminalFile('bulk-x'), world.terminalFile('bulk-y')];
    for (const f of files) await terminal.register(f.path);
    const online = await vscode.commands.executeCommand<import('../../src/peer/api').OnlineItem[]>('p2p.refresh');
    const rows = buildOnlineTree(online ?? [], EXTENSION_PEER_NAME).filter((r) => files.some((f) => f.contentName === r.contentName));
    assert.equal(rows.length, 2);

    const results = await vscode.commands.executeCommand<DownloadResult[]>(Commands.download, rows[0], rows);

    assert.equal(results?.length, 2, 'a multi-selection download returns one result per row');
    for (const f of files) {
      assert.ok(fs.readFileSync(path.join(world.downloadFolder, f.contentName)).equals(f.bytes), `${f.contentName} was not saved whole`);
    }
  });

  test('Download to… saves into the folder given, not p2p.downloadFolder', async () => {
    const file = world.terminalFile('download-to');
    await terminal.register(file.path);
    const folder = path.join(world.root, 'chosen-folder');
    fs.mkdirSync(folder, { recursive: true });

    const [result] = (await vscode.commands.executeCommand<DownloadResult[]>(Commands.downloadTo, file.contentName, { folder })) ?? [];

    assert.equal(result?.path, path.join(folder, file.contentName));
    assert.ok(fs.readFileSync(result.path).equals(file.bytes));
    assert.ok(!fs.existsSync(path.join(world.downloadFolder, file.contentName)));
  });

  test('Copy Name and Copy SHA-256 put the selected rows on the clipboard, one per line', async () => {
    const files = [world.workspaceFile('copy-1'), world.workspaceFile('copy-2')];
    for (const f of files) await vscode.commands.executeCommand('p2p.registerFile', f.uri);
    const rows = buildShareRows(peer.listLocal());

    const names = await vscode.commands.executeCommand<string>(Commands.copyName, rows[0], rows);
    const hashes = await vscode.commands.executeCommand<string>(Commands.copySha256, rows[0], rows);

    assert.equal(names, rows.map((r) => r.contentName).join('\n'));
    assert.equal(hashes, rows.map((r) => r.sha256).join('\n'));
    assert.equal(await vscode.env.clipboard.readText(), hashes);
  });

  test('Share Folder shares every regular file below the folder and nothing a link leads to', async () => {
    const folder = path.join(world.workspaceFolder, `shared-folder-${Date.now()}`);
    fs.mkdirSync(path.join(folder, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(folder, `top-${Date.now()}.txt`), 'top');
    fs.writeFileSync(path.join(folder, 'sub', `inner-${Date.now()}.txt`), 'inner');
    const secret = path.join(world.root, 'private.key');
    fs.writeFileSync(secret, 'PRIVATE');
    fs.symlinkSync(secret, path.join(folder, 'looks-innocent.txt'));

    const shares = await vscode.commands.executeCommand<Share[]>(Commands.shareFolder, vscode.Uri.file(folder), { confirm: false });

    assert.equal(shares?.length, 2);
    assert.ok(peer.listLocal().every((s) => s.path !== secret && s.contentName !== 'looks-innocent.txt' && s.contentName !== 'private.key'));
  });

  test('dropping Explorer files on My Shares shares them (the controller My Shares uses, fed a real DataTransfer)', async () => {
    const files = [world.workspaceFile('dropped-1'), world.workspaceFile('dropped-2')];
    const failures: unknown[] = [];
    const controller = new SharesDragAndDrop((paths) => sharePaths(paths, false), (err) => failures.push(err));
    const data = new vscode.DataTransfer();
    data.set('text/uri-list', new vscode.DataTransferItem(files.map((f) => f.uri.toString()).join('\r\n')));

    await controller.handleDrop(undefined, data, new vscode.CancellationTokenSource().token);

    assert.deepEqual(failures, []);
    assert.deepEqual(contentNames(peer.listLocal()), files.map((f) => f.contentName).sort());
  });

  test('a drop holding a web link shares nothing and says why', async () => {
    const file = world.workspaceFile('dropped-with-link');
    const failures: unknown[] = [];
    const controller = new SharesDragAndDrop((paths) => sharePaths(paths, false), (err) => failures.push(err));
    const data = new vscode.DataTransfer();
    data.set('text/uri-list', new vscode.DataTransferItem(`${file.uri}\r\nhttps://example.com/x`));

    await controller.handleDrop(undefined, data, new vscode.CancellationTokenSource().token);

    assert.equal(failures.length, 1);
    assert.deepEqual(peer.listLocal(), []);
  });

  test('a terminal peer downloading a share shows up in the engine\'s uploads', async () => {
    const file = world.workspaceFile('watched-upload');
    await vscode.commands.executeCommand('p2p.registerFile', file.uri);
    const seen: ActiveUpload[] = [];
    const onUploads = (u: ActiveUpload[]) => seen.push(...u);
    peer.on('uploads-changed', onUploads);
    try {
      await terminal.download(file.contentName, EXTENSION_PEER_NAME);
      await eventually(peer, 'uploads-changed', () => seen.some((u) => u.contentName === file.contentName), 'the upload to be announced');
    } finally {
      peer.off('uploads-changed', onUploads);
    }
    const upload = seen.find((u) => u.contentName === file.contentName)!;
    assert.match(upload.address, /127\.0\.0\.1|::1/);
    assert.equal(upload.size, file.bytes.length);
  });

  test('Quit Sharing with {confirm: false} stops sharing without asking', async () => {
    await vscode.commands.executeCommand('p2p.registerFile', world.workspaceFile('quit-quietly').uri);
    await vscode.commands.executeCommand(Commands.quitSharing, { confirm: false });
    assert.deepEqual(peer.listLocal(), []);
  });
});
