// Setting changes take effect in the running extension, without a reload; a bad value keeps the last good one.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { freeTcpPort } from '../support/free-port';
import { changeSetting, EXTENSION_PEER_NAME, fromPeer, P2PApi, world } from './support/world';

suite('Settings take effect without a reload', () => {
  let api: P2PApi;

  setup(async () => {
    ({ api } = await world.freshExtension());
  });

  test('changing p2p.indexServer moves every share to the new index server', async () => {
    const { index: first, terminal: onFirst } = await world.main();
    const second = await world.extraIndexServer();
    const onSecond = await world.extraTerminalPeer(second.address, 'observer-b');
    const file = world.workspaceFile('moving');
    await vscode.commands.executeCommand('p2p.registerFile', file.uri);
    assert.deepEqual(fromPeer(await onFirst.online(), EXTENSION_PEER_NAME), [file.contentName]);

    await changeSetting(api, 'indexServer', second.address);

    assert.equal(world.peerOf(api).indexAddress, second.address);
    assert.deepEqual(fromPeer(await onSecond.online(), EXTENSION_PEER_NAME), [file.contentName], `not registered at ${second.address}`);
    assert.deepEqual(fromPeer(await onFirst.online(), EXTENSION_PEER_NAME), [], `still listed at ${first.address}`);
    const downloaded = await onSecond.download(file.contentName);
    assert.ok(downloaded.sources.includes(EXTENSION_PEER_NAME), 'a peer on the new index could not download from the extension');
  });

  test('an invalid p2p.indexServer is refused and the last good address stays in force', async () => {
    const { index, terminal } = await world.main();
    const file = world.workspaceFile('steady');
    await vscode.commands.executeCommand('p2p.registerFile', file.uri);

    await changeSetting(api, 'indexServer', 'not an address:99999');

    const peer = world.peerOf(api);
    assert.equal(peer.indexAddress, index.address, 'the peer left the last good index server');
    assert.equal(peer.state, 'connected');
    assert.deepEqual(fromPeer(await terminal.online(), EXTENSION_PEER_NAME), [file.contentName]);
    const items = await vscode.commands.executeCommand<unknown[]>('p2p.refresh');
    assert.ok(Array.isArray(items), 'Refresh failed while a bad address was configured');
  });

  test('changing p2p.listenPort restarts sharing on the new port with every share', async () => {
    const { terminal } = await world.main();
    const file = world.workspaceFile('new-port');
    await vscode.commands.executeCommand('p2p.registerFile', file.uri);
    const port = await freeTcpPort();

    await changeSetting(api, 'listenPort', port);

    const peer = world.peerOf(api);
    assert.equal(peer.listenPort, port);
    const entry = (await terminal.online()).find((i) => i.peerName === EXTENSION_PEER_NAME && i.contentName === file.contentName);
    assert.equal(entry?.port, port, 'the index should now send downloaders to the new port');
    const downloaded = await terminal.download(file.contentName, EXTENSION_PEER_NAME);
    assert.deepEqual(downloaded.sources, [EXTENSION_PEER_NAME]);
  });
});
