// Bounded lists, from the attacker's side: a hostile index cannot make a peer walk or hold its whole O list, and F (search) costs the index a bounded time.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { Peer } from '../../src/peer/peer';
import { MAX_PAGE_REQUESTS } from '../../src/peer/list-pages';
import { IndexClient } from '../../src/peer/index-client';
import { COOKIE_BYTES, ErrorCodes, IndexReply, OnlineEntry } from '../../src/protocol';
import { decodeIndexReply, encodeIndexRequest } from '../../src/protocol/udp';
import { Registry, SEARCH_SCAN_BUDGET, ownerOfIp } from '../../src/server/registry';
import { FAKE_EXCHANGE_KEY, FakeIndex } from '../support/fake-index';
import { RunningIndexServer, UdpProbe, startIndexServer } from '../support/index-server';
import { makeTempDir, removeDir } from '../support/peers';
import { isP2P } from '../support/p2p-error';

/** An entry as large as the protocol allows: 255-byte names, so every O page holds only two. */
function bigEntry(i: number): OnlineEntry {
  const tag = String(i).padStart(8, '0');
  return {
    peerName: `bomb-${tag}`.padEnd(255, 'p'),
    contentName: `${tag}.bin`.padStart(255, 'c'),
    host: '127.0.0.1',
    port: 4000,
    size: 1,
    sha256: randomBytes(32),
  };
}

/** A hostile index: a cookie for everyone, and to every O the page `page(cursor)`. */
function hostileIndex(page: (cursor: number) => { next: number; entries: OnlineEntry[] }): Promise<FakeIndex> {
  return FakeIndex.start((req): IndexReply | undefined => {
    if (req.type === 'H') return { type: 'H', requestId: req.requestId, cookie: Buffer.alloc(COOKIE_BYTES, 7), exchangeKey: FAKE_EXCHANGE_KEY };
    if (req.type === 'O') return { type: 'O', requestId: req.requestId, ...page(req.cursor) };
    return { type: 'A', requestId: req.requestId, leaseSeconds: 60, message: '' };
  });
}

describe('bounded lists', function () {
  this.timeout(60_000);

  describe('a hostile index serving the O list', function () {
    let root: string;
    let fake: FakeIndex;
    let peer: Peer | undefined;

    beforeEach(async () => {
      root = await makeTempDir('bounded-lists');
    });

    afterEach(async () => {
      await peer?.quit();
      peer = undefined;
      await fake?.close();
      await removeDir(root);
    });

    async function victim(): Promise<Peer> {
      peer = await Peer.start({ peerName: 'victim', index: fake.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, 'dl'), requestTimeoutMs: 200 });
      return peer;
    }

    const oRequests = () => fake.requests.filter((r) => r.type === 'O').length;

    it('pages that never end: the victim takes the entries it asked for, stops, and can go on from where it stopped', async () => {
      // Every page leads to another, forever: the walk-everything client asked for 100 000 of them.
      fake = await hostileIndex((cursor) => ({ next: cursor + 1, entries: [bigEntry(cursor * 2), bigEntry(cursor * 2 + 1)] }));
      const v = await victim();
      const first = await v.listOnline({ maxItems: 15 });
      assert.equal(first.items.length, 15, 'exactly what was asked for');
      assert.ok(first.next, 'a cursor to go on from');
      assert.equal(oRequests(), 8, 'eight two-entry pages hold 15 entries; no page more');

      const second = await v.listOnline({ cursor: first.next, maxItems: 3 });
      assert.deepEqual(
        second.items.map((i) => i.peerName.slice(0, 13)),
        ['bomb-00000015', 'bomb-00000016', 'bomb-00000017'],
        'the next call starts at the entry after the last one returned, inside the page it stopped in',
      );
    });

    it('pages that never end, asked for the most: at most 64 requests and 1000 entries per call', async () => {
      fake = await hostileIndex((cursor) => ({ next: cursor + 1, entries: [bigEntry(cursor)] }));
      const v = await victim();
      const slice = await v.listOnline({ maxItems: 1000 });
      assert.equal(oRequests(), MAX_PAGE_REQUESTS);
      assert.equal(slice.items.length, MAX_PAGE_REQUESTS, 'one entry per page, one page per request');
      assert.ok(slice.next);
      await assert.rejects(v.listOnline({ maxItems: 1001 }), isP2P('BAD_SETTING'));
    });

    it('a byte cap holds even when every entry is as large as the protocol allows', async () => {
      fake = await hostileIndex((cursor) => ({ next: cursor + 1, entries: [bigEntry(cursor * 2), bigEntry(cursor * 2 + 1)] }));
      const v = await victim();
      const slice = await v.listOnline({ maxItems: 1000, maxBytes: 4096 });
      const wireBytes = slice.items.length * (1 + 255 + 1 + 255 + 7 + 8 + 32);
      assert.ok(wireBytes <= 4096, `${wireBytes} bytes held`);
      assert.equal(slice.items.length, 7);
    });

    it('a cursor that loops back fails the call with PROTOCOL instead of walking forever', async () => {
      fake = await hostileIndex((cursor) => ({ next: cursor === 0 ? 5 : 3, entries: [bigEntry(cursor)] }));
      const v = await victim();
      await assert.rejects(v.listOnline(), isP2P('PROTOCOL', /cursor 3 after 5/));
      assert.equal(oRequests(), 2);
    });

    it('a cursor that stays where it is fails the call with PROTOCOL', async () => {
      fake = await hostileIndex(() => ({ next: 9, entries: [bigEntry(9)] }));
      const v = await victim();
      await assert.rejects(v.listOnline({ cursor: { at: 9, skip: 0 } }), isP2P('PROTOCOL', /cursor 9 after 9/));
    });
  });

  describe('F over real UDP', function () {
    let srv: RunningIndexServer;
    let client: IndexClient;
    let root: string;
    let peer: Peer | undefined;

    before(async () => {
      srv = await startIndexServer();
      client = new IndexClient({ address: { host: srv.host, port: srv.port } });
      const secret = randomBytes(32);
      const names = [
        'Quarterly REPORT 2024.pdf',
        'report-draft.txt',
        'Café menu.md', // written with a precomposed é
        'a+b (1) [x].txt',
        'notes.txt',
        ...Array.from({ length: 60 }, (_, i) => `a fairly long archive name of the quarterly reports ${String(i).padStart(3, '0')}.zip`),
      ];
      for (const n of names) await client.register('lister', secret, 4000, n, n.length, randomBytes(32));
      // A second version of one name, from another peer: two hits for it.
      await client.register('other', randomBytes(32), 4001, 'notes.txt', 99, randomBytes(32));
      root = await makeTempDir('bounded-lists-f');
      peer = await Peer.start({ peerName: 'finder', index: srv.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, 'dl') });
    });

    after(async () => {
      await peer?.quit();
      await client.close();
      await srv.close();
      await removeDir(root);
    });

    it('finds names that contain the text, upper and lower case alike, NFC on both sides', async () => {
      const upper = await peer!.searchOnline('REPORT', { maxItems: 1000 });
      const names = upper.hits.map((h) => h.contentName);
      assert.ok(names.includes('Quarterly REPORT 2024.pdf') && names.includes('report-draft.txt'));
      assert.equal(names.length, 62, 'the two reports and the sixty archives');
      assert.equal(upper.next, undefined, 'the scan reached the end');
      // "cafe\u0301" (e + combining accent) is NFC "café": it finds the precomposed name.
      assert.deepEqual((await peer!.searchOnline('CAFE\u0301')).hits.map((h) => h.contentName), ['Café menu.md']);
    });

    it('gives one hit per version, with its size, hash and source count', async () => {
      const hits = (await peer!.searchOnline('notes')).hits;
      assert.equal(hits.length, 2);
      assert.deepEqual(hits.map((h) => [h.contentName, h.sources]), [['notes.txt', 1], ['notes.txt', 1]]);
      assert.deepEqual(hits.map((h) => h.size).sort((a, b) => a - b), [9, 99]);
      assert.ok(hits.every((h) => /^[0-9a-f]{64}$/.test(h.sha256)));
    });

    it('pages: each call returns what it was asked for, and the next goes on without repeats or gaps', async () => {
      const seen: string[] = [];
      let next;
      let calls = 0;
      do {
        const page = await peer!.searchOnline('archive', { cursor: next, maxItems: 7 });
        assert.ok(page.hits.length <= 7);
        seen.push(...page.hits.map((h) => h.contentName));
        next = page.next;
        calls++;
      } while (next);
      assert.equal(calls, 9);
      assert.equal(seen.length, 60);
      assert.equal(new Set(seen).size, 60);
    });

    it('takes regex and glob characters literally', async () => {
      assert.deepEqual((await peer!.searchOnline('+b (1) [')).hits.map((h) => h.contentName), ['a+b (1) [x].txt']);
      assert.deepEqual((await peer!.searchOnline('.*')).hits, []);
      assert.deepEqual((await peer!.searchOnline('%')).hits, []);
    });

    it('answers hostile queries with a clear E or a defined empty page, each at once', async () => {
      const probe = await UdpProbe.open(srv);
      try {
        const cookie = await probe.handshake();
        const empty = await probe.ask({ type: 'F', requestId: probe.id(), cookie, cursor: 0, query: '' });
        assert.equal(empty.type, 'E');
        if (empty.type === 'E') assert.deepEqual([empty.code, empty.message], [ErrorCodes.MALFORMED, 'the search text is empty']);

        const longest = await probe.ask({ type: 'F', requestId: probe.id(), cookie, cursor: 0, query: 'é'.repeat(127) });
        assert.deepEqual(longest, { type: 'F', requestId: longest.requestId, next: 0, hits: [] });

        const controls = await probe.ask({ type: 'F', requestId: probe.id(), cookie, cursor: 0, query: '\u0000\u001b[2J\u202e' });
        assert.equal(controls.type, 'F');

        // Bad UTF-8 in the query: the codec refuses it before the registry sees it.
        const good = encodeIndexRequest({ type: 'F', requestId: probe.id(), cookie, cursor: 0, query: 'ab' });
        good[good.length - 1] = 0xff;
        const badUtf8 = decodeIndexReply(await probe.roundTrip(good));
        assert.equal(badUtf8.type, 'E');
        if (badUtf8.type === 'E') assert.equal(badUtf8.code, ErrorCodes.MALFORMED);

        // A cursor past the end: an empty last page.
        const past = await probe.ask({ type: 'F', requestId: probe.id(), cookie, cursor: 0xffff_fff0, query: 'a' });
        assert.deepEqual(past, { type: 'F', requestId: past.requestId, next: 0, hits: [] });
      } finally {
        await probe.close();
      }
    });

    it('the engine refuses an empty or over-long text before sending anything', async () => {
      await assert.rejects(peer!.searchOnline(''), isP2P('BAD_SETTING'));
      await assert.rejects(peer!.searchOnline('x'.repeat(256)), isP2P('TOO_LARGE'));
    });
  });

  describe('F looks at a bounded number of names per request', function () {
    it('never finds a name whose last registration went, nor counts a version that left', function () {
      const registry = new Registry();
      const owner = ownerOfIp('10.0.0.2');
      const reg = (peerName: string, contentName: string, fill: number) =>
        registry.register({ peerName, contentName, owner, host: '10.0.0.2', port: 4000, size: fill, sha256: Buffer.alloc(32, fill) });
      reg('a', 'gone soon.txt', 1);
      reg('a', 'kept.txt', 1);
      reg('b', 'kept.txt', 2);
      registry.deregister('a', 'gone soon.txt', owner);
      registry.deregister('b', 'kept.txt', owner);
      assert.deepEqual(registry.searchNames('GONE', 0), { hits: [], next: 0 });
      const kept = registry.searchNames('kept', 0).hits;
      assert.deepEqual(kept.map((h) => h.versions.map((v) => [v.size, v.sources])), [[[1, 1]]]);
    });

    it('a query whose only match lies past the budget gets an empty page with a cursor, then the hit', function () {
      const registry = new Registry(undefined, { maxPerAddress: 1_000_000, maxPerPeer: 1_000_000, maxEntries: 1_000_000 });
      const owner = ownerOfIp('10.0.0.1');
      const total = SEARCH_SCAN_BUDGET + 10;
      for (let i = 0; i < total; i++) {
        const name = i === total - 1 ? 'the needle.txt' : `hay ${i}.txt`;
        registry.register({ peerName: 'farmer', contentName: name, owner, host: '10.0.0.1', port: 4000, size: 1, sha256: Buffer.alloc(32, 1) });
      }
      const first = registry.searchNames('NEEDLE', 0);
      assert.deepEqual(first.hits, [], 'the first request stops at its budget');
      assert.notEqual(first.next, 0, 'and says where to go on');
      const second = registry.searchNames('NEEDLE', first.next);
      assert.deepEqual(second.hits.map((h) => h.contentName), ['the needle.txt']);
      assert.equal(second.next, 0);
    });
  });
});
