// Online Content a page at a time: the rows (Load more, the search header, hits) and the cache that fills them from a real peer and index.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { OnlineItem, SearchHit } from '../../src/peer/api';
import { Peer } from '../../src/peer/peer';
import { MAX_SHOWN_ITEMS, ONLINE_PAGE_ITEMS, OnlineCache } from '../../src/extension/online-cache';
import { Commands, ContextValues } from '../../src/extension/view-model/ids';
import { OnlineSnapshot, buildOnlineRows } from '../../src/extension/view-model/online-rows';
import { CLASSIC_SHA256_HEX } from '../../src/protocol/classic';
import { COOKIE_BYTES } from '../../src/protocol';
import { FAKE_EXCHANGE_KEY, FakeIndex } from '../support/fake-index';
import { RunningIndexServer, registerListing, startIndexServer } from '../support/index-server';
import { makeTempDir, removeDir } from '../support/peers';

const H1 = 'a'.repeat(64);
// A real CommonMark renderer, as the hover is: a tooltip must render without a single link.
const md = (createRequire(__filename)('markdown-it') as (o: object) => { render(src: string): string })({ html: true, linkify: true });

function item(peerName: string, contentName: string): OnlineItem {
  return { peerName, contentName, host: '10.0.0.1', port: 5000, size: 1024, sha256: H1 };
}

function hit(contentName: string, extra: Partial<SearchHit> = {}): SearchHit {
  return { contentName, size: 2048, sha256: H1, sources: 3, ...extra };
}

const list = (over: Partial<OnlineSnapshot> = {}): OnlineSnapshot => ({ items: [], more: false, capped: false, ...over });

describe('ui online rows: Load more and Search', () => {
  it('ends the list with a Load more row when the index has more', () => {
    const rows = buildOnlineRows(list({ items: [item('sam', 'a.txt'), item('kim', 'b.txt')], more: true }), 'me');
    assert.deepEqual(rows.map((r) => r.kind), ['content', 'content', 'action']);
    const more = rows[2];
    assert.ok(more.kind === 'action');
    assert.equal(more.command, Commands.loadMore);
    assert.equal(more.contextValue, ContextValues.loadMore);
    assert.equal(more.description, '2 entries shown');
  });

  it('has no Load more at the end of the list, and says to search once the view holds the most it will', () => {
    assert.deepEqual(buildOnlineRows(list({ items: [item('sam', 'a.txt')] }), 'me').map((r) => r.kind), ['content']);
    const capped = buildOnlineRows(list({ items: [item('sam', 'a.txt')], capped: true }), 'me');
    const last = capped[capped.length - 1];
    assert.ok(last.kind === 'action' && last.command === undefined && /search/.test(last.description));
  });

  it('shows a search as a "Search: text — Clear" row, then one row per version', () => {
    const rows = buildOnlineRows(
      list({ items: [item('sam', 'a.txt')], search: { text: 'rep', hits: [hit('report.pdf'), hit('report.pdf', { sha256: 'b'.repeat(64), sources: 1 })], more: true, capped: false } }),
      'me',
    );
    assert.deepEqual(rows.map((r) => r.kind), ['action', 'hit', 'hit', 'action']);
    const header = rows[0];
    assert.ok(header.kind === 'action');
    assert.equal(header.label, 'Search: rep');
    assert.equal(header.description, '2 hits — Clear');
    assert.equal(header.command, Commands.clearSearch, 'a click goes back to the list');
    const [first, second] = [rows[1], rows[2]];
    assert.ok(first.kind === 'hit' && second.kind === 'hit');
    assert.equal(first.description, '3 sources · 2.0 KiB · aaaaaaaa');
    assert.notEqual(first.id, second.id, 'two versions, two rows');
    assert.ok(rows[3].kind === 'action' && rows[3].command === Commands.loadMore);
    const none = buildOnlineRows(list({ search: { text: 'zzz', hits: [], more: false, capped: false } }), 'me');
    assert.ok(none[0].kind === 'action' && none[0].description === 'no hits — Clear');
  });

  it('keeps remote text inert in the search rows', () => {
    const evil = '[Run](command:workbench.action.terminal.sendSequence) $(warning)\u202Eevil';
    const rows = buildOnlineRows(list({ search: { text: evil, hits: [hit(evil)], more: false, capped: false } }), 'me');
    for (const r of rows) {
      assert.doesNotMatch(r.label, /\u202E/, 'no bidi control in a label');
      assert.doesNotMatch(r.label, /(^|[^\\])\$\(/, 'no live icon syntax in a label');
      assert.doesNotMatch(md.render(r.tooltip), /<a /, 'no link in a rendered tooltip');
    }
    const classic = buildOnlineRows(list({ search: { text: 'x', hits: [hit('old.txt', { sha256: CLASSIC_SHA256_HEX })], more: false, capped: false } }), 'me');
    const row = classic[1];
    assert.ok(row.kind === 'hit' && !row.downloadable && row.contextValue === ContextValues.classicHit);
  });
});

describe('ui online cache: what the view shows, from a real peer and index', function () {
  this.timeout(60_000);
  let srv: RunningIndexServer;
  let root: string;
  let peer: Peer;
  let fake: FakeIndex | undefined;
  const total = 250;

  before(async () => {
    srv = await startIndexServer();
    await registerListing(srv, total);
    root = await makeTempDir('ui-online-cache');
    peer = await Peer.start({ peerName: 'viewer', index: srv.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, 'dl') });
  });

  after(async () => {
    await peer.quit();
    await fake?.close();
    await srv.close();
    await removeDir(root);
  });

  function cacheOf(source: Pick<Peer, 'listOnline' | 'searchOnline'>): { cache: OnlineCache; changes: OnlineSnapshot[] } {
    const changes: OnlineSnapshot[] = [];
    const cache = new OnlineCache({ ready: async () => source, current: () => source, changed: (s) => changes.push(s) });
    return { cache, changes };
  }

  it('loads a first page, Load more adds the next, refresh re-reads only as many as shown', async () => {
    const { cache, changes } = cacheOf(peer);
    await cache.refresh();
    assert.equal(cache.snapshot.items.length, ONLINE_PAGE_ITEMS);
    assert.equal(cache.snapshot.more, true);
    await cache.loadMore();
    assert.equal(cache.snapshot.items.length, 2 * ONLINE_PAGE_ITEMS);
    assert.equal(new Set(cache.snapshot.items.map((i) => i.contentName)).size, 2 * ONLINE_PAGE_ITEMS, 'no entry twice');
    const before = changes.length;
    await cache.refresh();
    assert.equal(cache.snapshot.items.length, 2 * ONLINE_PAGE_ITEMS, 'the same number of entries, not the whole index');
    assert.equal(changes.length, before, 'an unchanged refresh fires nothing');
    await cache.loadMore();
    assert.equal(cache.snapshot.items.length, total);
    assert.equal(cache.snapshot.more, false);
  });

  it('searches, pages the hits, and goes back to the list on Clear', async () => {
    const { cache } = cacheOf(peer);
    await cache.refresh();
    await cache.startSearch('FILE 1');
    const search = cache.snapshot.search!;
    assert.equal(search.text, 'FILE 1');
    assert.equal(search.hits.length, ONLINE_PAGE_ITEMS, 'files 100 to 199: a full page');
    assert.ok(search.hits.every((h) => h.contentName.startsWith('file 1')));
    await cache.refresh();
    assert.equal(cache.snapshot.search?.hits.length, ONLINE_PAGE_ITEMS, 'refresh keeps the search');
    cache.clearSearch();
    assert.equal(cache.snapshot.search, undefined);
    assert.equal(cache.snapshot.items.length, ONLINE_PAGE_ITEMS);
  });

  it('against an index whose pages never end, holds at most MAX_SHOWN_ITEMS however often Load more is clicked', async () => {
    let n = 0;
    fake = await FakeIndex.start((req) => {
      if (req.type === 'H') return { type: 'H', requestId: req.requestId, cookie: Buffer.alloc(COOKIE_BYTES, 7), exchangeKey: FAKE_EXCHANGE_KEY };
      if (req.type !== 'O') return undefined;
      const entries = Array.from({ length: 20 }, () => ({ peerName: 'bomb', contentName: `x${n++}`, host: '127.0.0.1', port: 4000, size: 1, sha256: randomBytes(32) }));
      return { type: 'O', requestId: req.requestId, next: req.cursor + 1, entries };
    });
    const victim = await Peer.start({ peerName: 'victim', index: fake.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, 'v') });
    try {
      const { cache } = cacheOf(victim);
      await cache.refresh();
      for (let i = 0; i < MAX_SHOWN_ITEMS / ONLINE_PAGE_ITEMS + 5; i++) await cache.loadMore();
      assert.equal(cache.snapshot.items.length, MAX_SHOWN_ITEMS);
      assert.equal(cache.snapshot.more, false);
      assert.equal(cache.snapshot.capped, true);
      const asked = fake.requests.filter((r) => r.type === 'O').length;
      await cache.loadMore();
      assert.equal(fake.requests.filter((r) => r.type === 'O').length, asked, 'a capped view asks for nothing more');
    } finally {
      await victim.quit();
    }
  });
});
