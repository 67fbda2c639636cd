// Peer names: renaming re-registers every share under the new name; a name another peer holds is refused.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Peer } from '../../src/peer';
import { TerminalPeer } from './support/processes';
import { EXTENSION_PEER_NAME, fromPeer, TERMINAL_PEER_NAME, world } from './support/world';

suite('Peer names', () => {
  let peer: Peer;
  let terminal: TerminalPeer;

  setup(async () => {
    ({ peer, network: { terminal } } = await world.freshExtension());
  });

  test('Set Peer Name re-registers every share under the new name and saves it', async () => {
    const a = world.workspaceFile('rename-a');
    const b = world.workspaceFile('rename-b');
    await vscode.commands.executeCommand('p2p.registerFile', a.uri);
    await vscode.commands.executeCommand('p2p.registerFile', b.uri);
    const newName = `renamed-${process.pid}`;

    const now = await vscode.commands.executeCommand<string>('p2p.setPeerName', newName);

    assert.equal(now, newName);
    assert.equal(peer.peerName, newName);
    assert.equal(vscode.workspace.getConfiguration('p2p').get('peerName'), newName, 'the new name is not saved in p2p.peerName');
    const online = await terminal.online();
    assert.deepEqual(fromPeer(online, newName), [a.contentName, b.contentName].sort());
    assert.deepEqual(fromPeer(online, EXTENSION_PEER_NAME), [], 'entries under the old name are left on the index');
  });

  test('a peer name the terminal peer holds is refused with NAME_TAKEN and nothing changes', async () => {
    const theirs = world.terminalFile('theirs');
    await terminal.register(theirs.path);
    const mine = world.workspaceFile('mine');
    await vscode.commands.executeCommand('p2p.registerFile', mine.uri);

    // The engine names the reason...
    await assert.rejects(peer.setPeerName(TERMINAL_PEER_NAME), (e: unknown) => (e as { code?: string }).code === 'NAME_TAKEN');
    // ...and the command reports the failure (a notification) and returns nothing.
    const result = await vscode.commands.executeCommand<string>('p2p.setPeerName', TERMINAL_PEER_NAME);
    assert.equal(result, undefined, 'Set Peer Name claimed to take a name another peer holds');

    assert.equal(peer.peerName, EXTENSION_PEER_NAME);
    assert.equal(vscode.workspace.getConfiguration('p2p').get('peerName'), EXTENSION_PEER_NAME, 'a refused name was saved');
    const online = await terminal.online();
    assert.deepEqual(fromPeer(online, EXTENSION_PEER_NAME), [mine.contentName], 'the extension\'s share should stay under its own name');
    assert.ok(fromPeer(online, TERMINAL_PEER_NAME).includes(theirs.contentName), 'the terminal peer lost its share');
    assert.ok(!fromPeer(online, TERMINAL_PEER_NAME).includes(mine.contentName), 'the extension\'s share appeared under the taken name');
  });
});
