// Runs last (index.ts orders it so): deactivating the extension de-registers everything and stops the engine.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EXTENSION_ID, EXTENSION_PEER_NAME, fromPeer, world } from './support/world';

/** Resolves with whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

suite('Deactivation', () => {
  test('deactivate() de-registers every share and stops the peer engine', async () => {
    const { api, peer, network } = await world.freshExtension();
    const a = world.workspaceFile('last-a');
    const b = world.workspaceFile('last-b');
    await vscode.commands.executeCommand('p2p.registerFile', a.uri);
    await vscode.commands.executeCommand('p2p.registerFile', b.uri);
    assert.deepEqual(fromPeer(await network.terminal.online(), EXTENSION_PEER_NAME), [a.contentName, b.contentName].sort());
    const port = peer.listenPort;

    // The module VS Code loaded (the require cache holds it), so this is the deactivate VS Code would call.
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const main = require(path.join(ext.extensionPath, ext.packageJSON.main)) as { deactivate(): Promise<void> };
    await main.deactivate();

    assert.equal(api.peer(), undefined, 'the engine is still attached after deactivate()');
    assert.deepEqual(fromPeer(await network.terminal.online(), EXTENSION_PEER_NAME), [], 'the index still lists the extension\'s shares');
    assert.equal(await accepts(port), false, `the content server still accepts connections on port ${port}`);
  });
});
