// The Online Content's first page read before the engine runs: the same page the engine would list, shown until the engine's own list comes.
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import type { OnlinePage } from '../../src/peer/api';
import { Peer } from '../../src/peer/peer';
import { headStart, readFirstPage } from '../../src/extension/first-page';
import { ONLINE_PAGE_ITEMS, OnlineCache, OnlineSource } from '../../src/extension/online-cache';
import { OnlineSnapshot } from '../../src/extension/view-model/online-rows';
import { RunningIndexServer, registerListing, startIndexServer } from '../support/index-server';
import { makeTempDir, removeDir } from '../support/peers';

describe('ui first page: the online list before the engine has started', function () {
  this.timeout(60_000);
  let srv: RunningIndexServer;
  let root: string;
  const total = 150;

  before(async () => {
    srv = await startIndexServer();
    await registerListing(srv, total);
    root = await makeTempDir('ui-first-page');
  });

  after(async () => {
    await srv.close();
    await removeDir(root);
  });

  it('reads the same first page the engine lists, with no secret, certificate or content server', async () => {
    const early = await readFirstPage(srv.address, ONLINE_PAGE_ITEMS);
    const peer = await Peer.start({ peerName: 'viewer', index: srv.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, 'dl') });
    try {
      const engine = await peer.listOnline({ maxItems: ONLINE_PAGE_ITEMS });
      assert.equal(early.items.length, ONLINE_PAGE_ITEMS);
      assert.deepEqual(early.items, engine.items);
      assert.deepEqual(early.next, engine.next, 'Load more goes on from the same place');
    } finally {
      await peer.quit();
    }
  });

  it('asks the first index of a list', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const page = await readFirstPage(`${srv.address},127.0.0.1:${silent.address().port}`, 10);
      assert.equal(page.items.length, 10);
    } finally {
      silent.close();
    }
  });

  it('gives up on a silent index after its two short tries, for the engine to report', async () => {
    const silent = dgram.createSocket('udp4');
    let heard = 0;
    silent.on('message', () => heard++);
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      await assert.rejects(readFirstPage(`127.0.0.1:${silent.address().port}`, 10), (err: Error & { code?: string }) => err.code === 'TIMEOUT');
      assert.equal(heard, 2, 'two H, no full retry schedule');
    } finally {
      silent.close();
    }
  });

  it('lets the engine start once the page is in, or after a short head start when it never comes', async () => {
    let settled = false;
    const page = readFirstPage(srv.address, 10).finally(() => (settled = true));
    await headStart(page);
    assert.equal(settled, true, 'a page that answers is waited for');
    const started = Date.now();
    await headStart(new Promise(() => undefined));
    assert.ok(Date.now() - started < 2000, 'a page that never comes holds the engine back only briefly');
  });

  describe('in the view\'s cache', () => {
    function cacheOf(engine: () => OnlineSource | undefined): { cache: OnlineCache; changes: OnlineSnapshot[] } {
      const changes: OnlineSnapshot[] = [];
      const cache = new OnlineCache({
        ready: async () => engine() ?? assert.fail('no engine yet'),
        current: engine,
        changed: (s) => changes.push(s),
      });
      return { cache, changes };
    }

    it('shows the first page until the engine\'s own list replaces it', async () => {
      let engine: Peer | undefined;
      const { cache, changes } = cacheOf(() => engine);
      cache.showFirst(await readFirstPage(srv.address, ONLINE_PAGE_ITEMS));
      assert.equal(changes.length, 1);
      assert.equal(cache.snapshot.items.length, ONLINE_PAGE_ITEMS);
      assert.equal(cache.snapshot.more, true, 'Load more is offered at once');
      engine = await Peer.start({ peerName: 'viewer', index: srv.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, 'dl') });
      try {
        await cache.loadMore();
        assert.equal(cache.snapshot.items.length, total, 'the engine goes on from the first page\'s cursor');
        assert.equal(new Set(cache.snapshot.items.map((i) => i.contentName)).size, total, 'no entry twice');
      } finally {
        await engine.quit();
      }
    });

    it('keeps what the engine already shows: a first page that comes late is older', async () => {
      const late: OnlinePage = { items: [{ peerName: 'gone', contentName: 'old.txt', host: '10.0.0.1', port: 1, size: 1, sha256: 'a'.repeat(64) }] };
      const engine = await Peer.start({ peerName: 'viewer', index: srv.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, 'dl') });
      try {
        const { cache, changes } = cacheOf(() => engine);
        cache.showFirst(late);
        assert.equal(changes.length, 0, 'the engine runs: nothing from before it is shown');
        await cache.refresh();
        cache.showFirst(late);
        assert.ok(!cache.snapshot.items.some((i) => i.contentName === 'old.txt'));
        assert.equal(cache.snapshot.items.length, ONLINE_PAGE_ITEMS);
      } finally {
        await engine.quit();
      }
    });
  });
});
