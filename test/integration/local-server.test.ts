// Start Local Index Server runs an index inside the window that other peers can use; stopping it moves back.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { EXTENSION_PEER_NAME, fromPeer, P2PApi, world } from './support/world';

suite('Local index server', () => {
  let api: P2PApi;

  setup(async () => {
    ({ api } = await world.freshExtension());
  });

  teardown(async () => {
    // A failed test must not leave the window's index server running for the next one.
    if (api?.localServer()) await vscode.commands.executeCommand('p2p.stopLocalServer');
  });

  test('serves other peers, carries the shares there and back again when stopped', async () => {
    const { index, terminal } = await world.main();
    const file = world.workspaceFile('local');
    await vscode.commands.executeCommand('p2p.registerFile', file.uri);

    const local = await vscode.commands.executeCommand<{ host: string; port: number }>('p2p.startLocalServer', { port: 0 });
    assert.ok(local && local.port > 0, `Start Local Index Server returned ${JSON.stringify(local)}`);
    assert.deepEqual(api.localServer(), local);
    const localAddress = `${local.host}:${local.port}`;
    assert.equal(world.peerOf(api).indexAddress, localAddress, 'the extension should use its own index server');

    const visitor = await world.extraTerminalPeer(localAddress, 'local-visitor');
    assert.deepEqual(fromPeer(await visitor.online(), EXTENSION_PEER_NAME), [file.contentName]);
    const downloaded = await visitor.download(file.contentName);
    assert.ok(fs.readFileSync(downloaded.path).equals(file.bytes), 'the visitor received different bytes');
    assert.deepEqual(fromPeer(await terminal.online(), EXTENSION_PEER_NAME), [], 'the share should have left the configured index');

    await vscode.commands.executeCommand('p2p.stopLocalServer');

    assert.equal(api.localServer(), undefined);
    assert.equal(world.peerOf(api).indexAddress, index.address, 'the extension should go back to p2p.indexServer');
    assert.deepEqual(fromPeer(await terminal.online(), EXTENSION_PEER_NAME), [file.contentName]);
    await visitor.quit();
  });
});
