// Sharing between the extension and a real terminal peer: register, list, download both ways, de-register, quit.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Peer } from '../../src/peer';
import type { DownloadResult, OnlineItem, Share } from '../../src/peer/api';
import { TerminalPeer, TerminalPeerError } from './support/processes';
import { contentNames, EXTENSION_PEER_NAME, fromPeer, TERMINAL_PEER_NAME, world } from './support/world';

suite('Sharing with a terminal peer', () => {
  let peer: Peer;
  let terminal: TerminalPeer;

  setup(async () => {
    ({ peer, network: { terminal } } = await world.freshExtension());
  });

  test('a registered workspace file is in My Shares and in the terminal peer\'s online list', async () => {
    const byUri = world.workspaceFile('by-uri');
    const byPath = world.workspaceFile('by-path');

    const share = await vscode.commands.executeCommand<Share>('p2p.registerFile', byUri.uri);
    assert.ok(share, 'Register File returned nothing: it failed');
    assert.equal(share.contentName, byUri.contentName);
    assert.equal(share.sha256, byUri.sha256);
    assert.equal(share.size, byUri.bytes.length);
    const second = await vscode.commands.executeCommand<Share>('p2p.registerFile', byPath.path);
    assert.equal(second?.contentName, byPath.contentName, 'Register File also takes a plain path');

    assert.deepEqual(contentNames(peer.listLocal()), [byPath.contentName, byUri.contentName].sort());
    const online = await terminal.online();
    assert.deepEqual(fromPeer(online, EXTENSION_PEER_NAME), [byPath.contentName, byUri.contentName].sort());
    const entry = online.find((i) => i.contentName === byUri.contentName)!;
    assert.equal(entry.port, peer.listenPort, 'the index should send downloaders to the extension\'s content server');
    assert.equal(entry.sha256, byUri.sha256);
  });

  test('Refresh lists what the terminal peer shares', async () => {
    const file = world.terminalFile('from-terminal');
    await terminal.register(file.path);

    const items = await vscode.commands.executeCommand<OnlineItem[]>('p2p.refresh');
    assert.ok(Array.isArray(items), 'Refresh returned no list: it failed');
    const entry = items.find((i) => i.contentName === file.contentName);
    assert.ok(entry, `${file.contentName} is not in the online list: ${JSON.stringify(items)}`);
    assert.equal(entry.peerName, TERMINAL_PEER_NAME);
    assert.equal(entry.sha256, file.sha256);
    assert.equal(entry.size, file.bytes.length);
  });

  test('downloading a terminal peer\'s file saves the same bytes, opens it and makes the extension a source', async () => {
    const file = world.terminalFile('download-me');
    await terminal.register(file.path);

    const result = await vscode.commands.executeCommand<DownloadResult>('p2p.download', file.contentName);
    assert.ok(result, 'Download returned nothing: it failed');
    assert.equal(path.dirname(result.path), world.downloadFolder, 'saved outside p2p.downloadFolder');
    assert.ok(fs.readFileSync(result.path).equals(file.bytes), 'the saved file differs from the terminal peer\'s');
    assert.deepEqual(result.sources, [TERMINAL_PEER_NAME]);
    assert.equal(result.sha256, file.sha256);

    const editor = vscode.window.activeTextEditor;
    assert.equal(editor?.document.uri.fsPath, result.path, 'the downloaded file is not the active editor');
    assert.equal(editor.document.getText(), file.bytes.toString('utf8'));

    assert.ok(result.shared, 'with p2p.shareDownloads the download should be shared');
    assert.ok(contentNames(peer.listLocal()).includes(file.contentName), 'the download is not in My Shares');
    const sources = await terminal.sources(file.contentName);
    assert.deepEqual(sources.map((s) => s.peerName).sort(), [EXTENSION_PEER_NAME, TERMINAL_PEER_NAME].sort());
  });

  test('a download pinned to a peer and a hash fails cleanly when the hash does not match', async () => {
    const file = world.terminalFile('pinned');
    await terminal.register(file.path);
    const wrongHash = 'f'.repeat(64);

    const refused = await vscode.commands.executeCommand<DownloadResult>('p2p.download', {
      contentName: file.contentName,
      fromPeer: TERMINAL_PEER_NAME,
      sha256: wrongHash,
    });
    assert.equal(refused, undefined, 'a download of a version nobody shares must fail');
    assert.ok(!fs.existsSync(path.join(world.downloadFolder, file.contentName)), 'a failed download left a file behind');

    const pinned = await vscode.commands.executeCommand<DownloadResult>('p2p.download', {
      contentName: file.contentName,
      fromPeer: TERMINAL_PEER_NAME,
      sha256: file.sha256,
    });
    assert.ok(pinned, 'the download with the right peer and hash failed');
    assert.deepEqual(pinned.sources, [TERMINAL_PEER_NAME]);
    assert.ok(fs.readFileSync(pinned.path).equals(file.bytes));
  });

  test('the terminal peer downloads a file the extension shares and gets the same bytes', async () => {
    const file = world.workspaceFile('upload');
    assert.ok(await vscode.commands.executeCommand<Share>('p2p.registerFile', file.uri), 'Register File failed');

    const downloaded = await terminal.download(file.contentName, EXTENSION_PEER_NAME);
    assert.deepEqual(downloaded.sources, [EXTENSION_PEER_NAME]);
    assert.equal(downloaded.sha256, file.sha256);
    assert.ok(fs.readFileSync(downloaded.path).equals(file.bytes), 'the terminal peer received different bytes');
  });

  test('De-register File removes the file from My Shares and from the index', async () => {
    const kept = world.workspaceFile('kept');
    const dropped = world.workspaceFile('dropped');
    await vscode.commands.executeCommand('p2p.registerFile', kept.uri);
    await vscode.commands.executeCommand('p2p.registerFile', dropped.uri);

    await vscode.commands.executeCommand('p2p.deregisterFile', dropped.contentName);

    assert.deepEqual(contentNames(peer.listLocal()), [kept.contentName]);
    assert.deepEqual(fromPeer(await terminal.online(), EXTENSION_PEER_NAME), [kept.contentName]);
    await assert.rejects(terminal.sources(dropped.contentName), (e: unknown) => e instanceof TerminalPeerError && e.code === 'NOT_FOUND');
  });

  test('Quit Sharing empties My Shares and the index, and sharing can start again', async () => {
    const first = world.workspaceFile('quit-a');
    const second = world.workspaceFile('quit-b');
    await vscode.commands.executeCommand('p2p.registerFile', first.uri);
    await vscode.commands.executeCommand('p2p.registerFile', second.uri);
    assert.equal(fromPeer(await terminal.online(), EXTENSION_PEER_NAME).length, 2);

    await vscode.commands.executeCommand('p2p.quitSharing', { confirm: false });

    assert.deepEqual(peer.listLocal(), []);
    assert.deepEqual(fromPeer(await terminal.online(), EXTENSION_PEER_NAME), []);
    const again = await vscode.commands.executeCommand<Share>('p2p.registerFile', first.uri);
    assert.equal(again?.contentName, first.contentName, 'the engine should keep running after Quit Sharing');
    assert.deepEqual(fromPeer(await terminal.online(), EXTENSION_PEER_NAME), [first.contentName]);
  });
});
