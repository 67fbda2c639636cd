// Online Content a page at a time, through the VS Code API: a first page, Load more for the next, refresh of only what is shown, Search and Clear.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { OnlineItem, SearchHit } from '../../src/peer/api';
import { IndexClient } from '../../src/peer/index-client';
import { world } from './support/world';

suite('Online Content pages', () => {
  const secret = randomBytes(32);
  let lister: IndexClient;

  suiteSetup(async () => {
    const { network } = await world.freshExtension();
    lister = new IndexClient({ address: { host: network.index.host, port: network.index.port } });
    // More entries than one page of the view holds (100), from a peer of their own.
    for (let i = 0; i < 150; i++) await lister.register('many-pages', secret, 4000, `paged entry ${String(i).padStart(3, '0')}.txt`, 1, randomBytes(32));
  });

  suiteTeardown(async () => {
    await lister.deregister('many-pages', secret, '').catch(() => undefined);
    await lister.close();
  });

  const paged = (items: OnlineItem[] | undefined) => (items ?? []).filter((i) => i.peerName === 'many-pages');

  test('shows a first page, Load more brings the next, and refresh re-reads only what is shown', async () => {
    const first = await vscode.commands.executeCommand<OnlineItem[]>('p2p.refresh');
    assert.ok(Array.isArray(first), 'Refresh returned no list: it failed');
    assert.ok(first.length <= 100, `the first page holds at most 100 entries, got ${first.length}`);
    assert.ok(paged(first).length < 150, 'the whole index was read');

    await vscode.commands.executeCommand('p2p.loadMore');
    const after = await vscode.commands.executeCommand<OnlineItem[]>('p2p.refresh');
    assert.ok(after.length > first.length && after.length <= 200, `after Load more: ${after.length} entries`);
    assert.equal(paged(after).length, 150, 'every paged entry once Load more ran');
  });

  test('Search shows the hits for a text, in any case, one per version; Clear goes back to the list', async () => {
    const hits = await vscode.commands.executeCommand<SearchHit[]>('p2p.search', 'PAGED ENTRY 14');
    assert.ok(Array.isArray(hits), 'Search returned no hits: it failed');
    assert.deepEqual(
      hits.map((h) => h.contentName).sort(),
      Array.from({ length: 10 }, (_, i) => `paged entry ${140 + i}.txt`),
    );
    await vscode.commands.executeCommand('p2p.clearSearch');
    const list = await vscode.commands.executeCommand<OnlineItem[]>('p2p.refresh');
    assert.ok(Array.isArray(list) && list.length > 0, 'the list is back');
  });
});
