// The extension is installed, activates, registers every command it contributes and starts its peer engine.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID, P2PApi, world } from './support/world';

/** The commands the extension promises (docs/architecture.md); each must also be callable with arguments. */
const PROMISED_COMMANDS = [
  'p2p.registerFile',
  'p2p.deregisterFile',
  'p2p.download',
  'p2p.refresh',
  'p2p.quitSharing',
  'p2p.setPeerName',
  'p2p.connect',
  'p2p.startLocalServer',
  'p2p.stopLocalServer',
  'p2p.showLog',
];

suite('Activation', () => {
  test('the extension is installed, activates and hands out its API', async () => {
    const ext = vscode.extensions.getExtension<P2PApi>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not installed`);
    const api = await world.api();
    assert.ok(ext.isActive, 'the extension did not become active');
    assert.equal(typeof api.peer, 'function');
    assert.equal(typeof api.localServer, 'function');
    const peer = await api.ready();
    assert.ok(peer, 'the peer engine did not start');
    assert.ok(peer.listenPort > 0, `the content server should listen on a TCP port, got ${peer.listenPort}`);
    const { index } = await world.main();
    assert.equal(peer.indexAddress, index.address, 'the engine should use p2p.indexServer');
    assert.equal(peer.state, 'connected');
    assert.equal(peer.peerName, vscode.workspace.getConfiguration('p2p').get('peerName'), 'the engine should use p2p.peerName');
  });

  test('every command the extension contributes is registered, and the promised ones are contributed', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    await ext.activate();
    const contributed: string[] = (ext.packageJSON.contributes?.commands ?? []).map((c: { command: string }) => c.command);
    for (const id of PROMISED_COMMANDS) assert.ok(contributed.includes(id), `package.json does not contribute ${id}`);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], 'contributed commands without a handler');
  });

  test('the settings are contributed with their documented defaults', () => {
    const config = vscode.workspace.getConfiguration('p2p');
    const defaults = Object.fromEntries(
      ['indexServer', 'peerName', 'listenPort', 'downloadFolder', 'shareDownloads', 'refreshIntervalSeconds'].map((key) => [key, config.inspect(key)?.defaultValue]),
    );
    assert.deepEqual(defaults, {
      indexServer: '127.0.0.1:7870',
      peerName: '',
      listenPort: 0,
      downloadFolder: '',
      shareDownloads: true,
      refreshIntervalSeconds: 10,
    });
  });
});
