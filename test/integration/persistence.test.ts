// What survives a restart of the extension: its identity in SecretStorage, and its shares, each checked again before it is shared.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { TerminalPeerError } from './support/processes';
import { EXTENSION_PEER_NAME, fromPeer, world } from './support/world';

suite('Persistence across a restart', () => {
  test('the peer keeps its secret in SecretStorage: after deactivate and activate an index that remembers owners gives it its name back at once', async () => {
    const { api, peer } = await world.freshExtension();
    // This index remembers who owns a peer name (LMDB) after the name's last share is gone, as a public one does:
    // a restarted peer with a new secret would be refused its own name for a month.
    const owners = fs.mkdtempSync(path.join(world.root, 'owners-'));
    const index = await world.extraIndexServer(['--data', owners]);
    const other = await world.extraTerminalPeer(index.address, 'owner-check');
    assert.equal((await vscode.commands.executeCommand<{ state: string }>('p2p.connect', index.address))?.state, 'connected');
    const file = world.workspaceFile('identity');
    await vscode.commands.executeCommand('p2p.registerFile', file.uri);
    const pin = peer.tlsPin;

    await api.reload();

    const restarted = world.peerOf(api);
    assert.notEqual(restarted, peer, 'reload() kept the old engine');
    assert.equal(restarted.peerName, EXTENSION_PEER_NAME);
    assert.equal(restarted.tlsPin, pin, 'the restarted peer has another key: its secret was not kept');
    const report = await api.restored();
    assert.deepEqual(report.restored, [file.contentName], `the index refused the restarted peer its own name: ${JSON.stringify(report.notRestored)}`);
    assert.deepEqual(fromPeer(await other.online(), EXTENSION_PEER_NAME), [file.contentName]);
    await other.quit();
  });

  test('remembered shares are checked again on activation: the unchanged one is shared, a changed and a vanished one are reported and stay remembered', async () => {
    const { api, network } = await world.freshExtension();
    const kept = world.workspaceFile('kept');
    const changed = world.workspaceFile('changed');
    const vanished = world.workspaceFile('vanished');
    for (const f of [kept, changed, vanished]) await vscode.commands.executeCommand('p2p.registerFile', f.uri);

    await api.reload(() => {
      // While VS Code is closed: one file is edited (same size, one byte differs, so only its SHA-256 tells), one deleted.
      const edited = Buffer.from(changed.bytes);
      edited[0] ^= 1;
      fs.writeFileSync(changed.path, edited);
      fs.rmSync(vanished.path);
    });

    // Only this test's files: a share an earlier failed test left behind is none of its business.
    const mine = (names: string[]) => names.filter((n) => [kept, changed, vanished].some((f) => f.contentName === n)).sort();
    const report = await api.restored();
    assert.deepEqual(mine(report.restored), [kept.contentName]);
    assert.deepEqual(
      report.notRestored.filter((n) => mine([n.share.contentName]).length > 0).map((n) => [n.share.contentName, n.why]).sort(),
      [[changed.contentName, 'changed since'], [vanished.contentName, 'not found']].sort(),
      'the changed and the vanished file must be reported, each with its reason',
    );
    assert.deepEqual(fromPeer(await network.terminal.online(), EXTENSION_PEER_NAME), [kept.contentName], 'the index lists a file that was not checked');
    await assert.rejects(network.terminal.sources(changed.contentName), (e: unknown) => e instanceof TerminalPeerError && e.code === 'NOT_FOUND');

    // Reported, not dropped: with both files back as they were, the next start shares all three again.
    await api.reload(() => {
      fs.writeFileSync(changed.path, changed.bytes);
      fs.writeFileSync(vanished.path, vanished.bytes);
    });
    const again = await api.restored();
    assert.deepEqual(mine(again.restored), [kept.contentName, changed.contentName, vanished.contentName].sort(), JSON.stringify(again.notRestored));
    assert.deepEqual(fromPeer(await network.terminal.online(), EXTENSION_PEER_NAME), [kept.contentName, changed.contentName, vanished.contentName].sort());
  });
});
