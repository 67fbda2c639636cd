// The index server over real UDP: handshake and cookies, R/T/S/O rules, paging, retries, leases, IPv6.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  ErrorCodes, HEADER_BYTES, IndexReply, MAX_DATAGRAM, OnlineEntry, decodeIndexReply, encodeIndexRequest,
} from '../../src/protocol';
import { IndexServer } from '../../src/server/index-server';
import { ExpiredEntry } from '../../src/server/registry';
import { MemoryStore } from '../../src/server/store';
import { ManualClock, RunningIndexServer, UdpProbe, canBind, startIndexServer } from '../support/index-server';

interface Reg {
  peer: string;
  content: string;
  secret: Buffer;
  port?: number;
  size?: number;
  sha?: Buffer;
}

function sha(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function expectCode(reply: IndexReply, code: keyof typeof ErrorCodes): asserts reply is Extract<IndexReply, { type: 'E' }> {
  assert.equal(reply.type, 'E', `expected E ${code}, got ${JSON.stringify(reply)}`);
  assert.equal(reply.code, ErrorCodes[code], `expected E ${code}, got code ${reply.code}: ${reply.message}`);
}

/** A client with its cookie: the way every peer talks to the index. */
class Client {
  cookie: Buffer = Buffer.alloc(16);
  constructor(readonly probe: UdpProbe) {}

  static async open(target: RunningIndexServer, bindHost?: string): Promise<Client> {
    const c = new Client(await UdpProbe.open(target, bindHost));
    c.cookie = await c.probe.handshake();
    return c;
  }

  register(r: Reg, requestId = this.probe.id()): Promise<IndexReply> {
    return this.probe.ask({
      type: 'R', requestId, cookie: this.cookie, secret: r.secret, tcpPort: r.port ?? 4000, size: r.size ?? 100,
      sha256: r.sha ?? sha(r.content), peerName: r.peer, contentName: r.content,
    });
  }

  deregister(peer: string, content: string, secret: Buffer, requestId = this.probe.id()): Promise<IndexReply> {
    return this.probe.ask({ type: 'T', requestId, cookie: this.cookie, secret, peerName: peer, contentName: content });
  }

  search(content: string, requestId = this.probe.id()): Promise<IndexReply> {
    return this.probe.ask({ type: 'S', requestId, cookie: this.cookie, contentName: content });
  }

  online(cursor: number): Promise<IndexReply> {
    return this.probe.ask({ type: 'O', requestId: this.probe.id(), cookie: this.cookie, cursor });
  }

  /** Walks every O page; checks each reply's size on the way. */
  async onlineAll(): Promise<OnlineEntry[]> {
    const all: OnlineEntry[] = [];
    let cursor = 0;
    do {
      const raw = await this.probe.roundTrip(encodeIndexRequest({ type: 'O', requestId: this.probe.id(), cookie: this.cookie, cursor }));
      assert.ok(raw.length <= MAX_DATAGRAM, `an O page is ${raw.length} bytes`);
      const page = decodeIndexReply(raw);
      assert.equal(page.type, 'O');
      if (page.type !== 'O') break;
      all.push(...page.entries);
      cursor = page.next;
    } while (cursor !== 0);
    return all;
  }

  close(): Promise<void> {
    return this.probe.close();
  }
}

describe('index server (UDP)', function () {
  let srv: RunningIndexServer;
  let clock: ManualClock;
  let clients: Client[];
  const alice = randomBytes(32);
  const bob = randomBytes(32);

  async function client(bindHost?: string): Promise<Client> {
    const c = await Client.open(srv, bindHost);
    clients.push(c);
    return c;
  }

  beforeEach(async function () {
    clock = new ManualClock();
    clients = [];
    srv = await startIndexServer({ now: clock.now, ttlSeconds: 60, sweepIntervalMs: 10 });
  });

  afterEach(async function () {
    await Promise.all(clients.map((c) => c.close()));
    await srv.close();
  });

  describe('H handshake', function () {
    it('answers with a 16-byte cookie in a reply exactly as large as the request, echoing the request id', async function () {
      const probe = (await client()).probe;
      const request = encodeIndexRequest({ type: 'H', requestId: 0xdeadbeef });
      const raw = await probe.roundTrip(request);
      assert.equal(raw.length, request.length);
      const reply = decodeIndexReply(raw);
      assert.equal(reply.type, 'H');
      assert.equal(reply.requestId, 0xdeadbeef);
      if (reply.type === 'H') assert.equal(reply.cookie.length, 16);
    });

    it('gives the same source the same cookie within a window and another port a different one', async function () {
      const a = await client();
      const b = await client();
      assert.deepEqual(await a.probe.handshake(), a.cookie);
      assert.notDeepEqual(b.cookie, a.cookie);
    });

    it('refuses R, T, S and O without a valid cookie with BAD_COOKIE', async function () {
      const c = await client();
      c.cookie = Buffer.alloc(16);
      expectCode(await c.register({ peer: 'sam', content: 'a.txt', secret: alice }), 'BAD_COOKIE');
      c.cookie = randomBytes(16);
      expectCode(await c.deregister('sam', 'a.txt', alice), 'BAD_COOKIE');
      expectCode(await c.search('a.txt'), 'BAD_COOKIE');
      expectCode(await c.online(0), 'BAD_COOKIE');
    });

    it("refuses a cookie issued to another source port", async function () {
      const a = await client();
      const b = await client();
      b.cookie = a.cookie;
      expectCode(await b.search('a.txt'), 'BAD_COOKIE');
    });

    it('accepts a cookie from the previous 120 s window and refuses one two windows old', async function () {
      const c = await client();
      expectCode(await c.search('a.txt'), 'NOT_FOUND');
      clock.advance(120_000);
      expectCode(await c.search('a.txt'), 'NOT_FOUND');
      clock.advance(120_000);
      expectCode(await c.search('a.txt'), 'BAD_COOKIE');
      c.cookie = await c.probe.handshake();
      expectCode(await c.search('a.txt'), 'NOT_FOUND');
    });

    it('refuses cookies of another server start: the key is random per start', async function () {
      const c = await client();
      const other = await startIndexServer({ now: clock.now });
      try {
        c.probe.target = other; // same source address and port, same clock: only the key differs
        expectCode(await c.search('a.txt'), 'BAD_COOKIE');
        c.cookie = await c.probe.handshake();
        expectCode(await c.search('a.txt'), 'NOT_FOUND');
      } finally {
        await other.close();
      }
    });
  });

  describe('R register', function () {
    it('registers the source IP with the declared TCP port and answers A with the lease', async function () {
      const c = await client();
      const reply = await c.register({ peer: 'sam', content: 'Text.txt', secret: alice, port: 5123, size: 42 });
      assert.equal(reply.type, 'A');
      if (reply.type === 'A') assert.equal(reply.leaseSeconds, 60);
      const found = await c.search('Text.txt');
      assert.equal(found.type, 'S');
      if (found.type !== 'S') return;
      assert.deepEqual(found.sources.map((s) => ({ ...s, sha256: s.sha256.toString('hex') })), [
        { peerName: 'sam', host: '127.0.0.1', port: 5123, size: 42, sha256: sha('Text.txt').toString('hex'), claims: {} },
      ]);
    });

    it('takes the host from the datagram, not from the client: a peer on 127.0.0.2 is listed as 127.0.0.2', async function () {
      if (!(await canBind('127.0.0.2'))) this.skip();
      const c = await client('127.0.0.2');
      await c.register({ peer: 'far', content: 'x.bin', secret: alice, port: 7000 });
      const found = await c.search('x.bin');
      assert.equal(found.type === 'S' && found.sources[0].host, '127.0.0.2');
    });

    it('refuses TCP port 0 with BAD_ADDRESS', async function () {
      const c = await client();
      expectCode(await c.register({ peer: 'sam', content: 'a.txt', secret: alice, port: 0 }), 'BAD_ADDRESS');
    });

    it('refuses names that break the rules with BAD_NAME saying which rule', async function () {
      const c = await client();
      const cases: [string, string, RegExp][] = [
        ['sam', 'dir/a.txt', /path separator/],
        ['sam', '..', /directory reference/],
        ['sam', 'nul.txt', /reserved device name/],
        ['sam', 'what?.txt', /one of/],
        ['sam', 'trailing.', /ends with a dot/],
        [' sam', 'a.txt', /white space/],
        ['sa\u0007m', 'a.txt', /control character/],
        ['', 'a.txt', /peer name is empty/],
        ['sam', '', /content name is empty/],
      ];
      for (const [peer, content, why] of cases) {
        const reply = await c.register({ peer, content, secret: alice });
        expectCode(reply, 'BAD_NAME');
        assert.match(reply.message, why, `${JSON.stringify(peer)} / ${JSON.stringify(content)}`);
      }
      expectCode(await c.search('a.txt'), 'NOT_FOUND');
    });

    it('treats the same peer registering the same content again as a refresh that updates address, size and hash', async function () {
      const c = await client();
      const first = await c.register({ peer: 'sam', content: 'a.txt', secret: alice, port: 4000, size: 1, sha: sha('v1') });
      assert.equal(first.type === 'A' && first.message, 'registered');
      const again = await c.register({ peer: 'sam', content: 'a.txt', secret: alice, port: 4001, size: 2, sha: sha('v2') });
      assert.equal(again.type === 'A' && again.message, 'refreshed');
      const found = await c.search('a.txt');
      assert.equal(found.type, 'S');
      if (found.type !== 'S') return;
      assert.equal(found.sources.length, 1);
      assert.equal(found.sources[0].port, 4001);
      assert.equal(found.sources[0].size, 2);
      assert.deepEqual(found.sources[0].sha256, sha('v2'));
      assert.equal(srv.server.registry.size, 1);
    });

    it('binds a peer name to its secret: another secret gets NAME_TAKEN on R and on T', async function () {
      const c = await client();
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      const clash = await c.register({ peer: 'sam', content: 'b.txt', secret: bob });
      expectCode(clash, 'NAME_TAKEN');
      assert.match(clash.message, /"sam"/);
      expectCode(await c.deregister('sam', 'a.txt', bob), 'NAME_TAKEN');
      expectCode(await c.deregister('sam', '', bob), 'NAME_TAKEN');
      expectCode(await c.search('b.txt'), 'NOT_FOUND');
      const still = await c.search('a.txt');
      assert.equal(still.type === 'S' && still.sources.length, 1);
    });

    it('frees a peer name once it has no registrations left', async function () {
      const c = await client();
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      assert.equal((await c.deregister('sam', 'a.txt', alice)).type, 'A');
      const taken = await c.register({ peer: 'sam', content: 'b.txt', secret: bob });
      assert.equal(taken.type, 'A');
      expectCode(await c.register({ peer: 'sam', content: 'c.txt', secret: alice }), 'NAME_TAKEN');
    });
  });

  describe('T de-register', function () {
    it('removes one registration and answers A with lease 0', async function () {
      const c = await client();
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      await c.register({ peer: 'sam', content: 'b.txt', secret: alice });
      const reply = await c.deregister('sam', 'a.txt', alice);
      assert.equal(reply.type, 'A');
      if (reply.type === 'A') assert.equal(reply.leaseSeconds, 0);
      expectCode(await c.search('a.txt'), 'NOT_FOUND');
      assert.equal((await c.search('b.txt')).type, 'S');
    });

    it('answers NOT_REGISTERED ("could not remove") for content the peer has not registered', async function () {
      const c = await client();
      expectCode(await c.deregister('nobody', 'a.txt', alice), 'NOT_REGISTERED');
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      const reply = await c.deregister('sam', 'other.txt', alice);
      expectCode(reply, 'NOT_REGISTERED');
      assert.match(reply.message, /other\.txt/);
    });

    it('with an empty content name removes every registration of the peer and says how many', async function () {
      const c = await client();
      for (const name of ['a.txt', 'b.txt', 'c.txt']) await c.register({ peer: 'sam', content: name, secret: alice });
      await c.register({ peer: 'kim', content: 'a.txt', secret: bob });
      const reply = await c.deregister('sam', '', alice);
      assert.equal(reply.type, 'A');
      if (reply.type === 'A') assert.match(reply.message, /\b3 registrations\b/);
      const left = await c.onlineAll();
      assert.deepEqual(left.map((e) => `${e.peerName}/${e.contentName}`), ['kim/a.txt']);
      expectCode(await c.deregister('sam', '', alice), 'NOT_REGISTERED');
    });
  });

  describe('S search', function () {
    it('lists every source of a content, hashes and addresses included, and NOT_FOUND for unknown content', async function () {
      const c = await client();
      const d = await client();
      await c.register({ peer: 'sam', content: 'song.mp3', secret: alice, port: 4001, size: 10, sha: sha('one') });
      await d.register({ peer: 'kim', content: 'song.mp3', secret: bob, port: 4002, size: 11, sha: sha('two') });
      await d.register({ peer: 'kim', content: 'other.mp3', secret: bob, port: 4002 });
      const found = await c.search('song.mp3');
      assert.equal(found.type, 'S');
      if (found.type !== 'S') return;
      const seen = found.sources.map((s) => `${s.peerName} ${s.host}:${s.port} ${s.size} ${s.sha256.toString('hex')}`).sort();
      assert.deepEqual(seen, [
        `kim 127.0.0.1:4002 11 ${sha('two').toString('hex')}`,
        `sam 127.0.0.1:4001 10 ${sha('one').toString('hex')}`,
      ]);
      const missing = await c.search('nothing.mp3');
      expectCode(missing, 'NOT_FOUND');
    });

    it('returns a random selection that fits in 1200 bytes when the sources do not all fit', async function () {
      const c = await client();
      const secrets = new Map<string, Buffer>();
      for (let i = 0; i < 60; i++) {
        const peer = `peer-with-a-longish-name-${String(i).padStart(3, '0')}`;
        secrets.set(peer, randomBytes(32));
        assert.equal((await c.register({ peer, content: 'popular.iso', secret: secrets.get(peer)!, port: 5000 + i })).type, 'A');
      }
      const picks = new Set<string>();
      for (let round = 0; round < 4; round++) {
        const raw = await c.probe.roundTrip(encodeIndexRequest({ type: 'S', requestId: c.probe.id(), cookie: c.cookie, contentName: 'popular.iso' }));
        assert.ok(raw.length <= MAX_DATAGRAM, `S reply is ${raw.length} bytes`);
        const reply = decodeIndexReply(raw);
        assert.equal(reply.type, 'S');
        if (reply.type !== 'S') return;
        // Each source here is 1+28+7+8+32 = 76 bytes: 15 fit in 1192.
        assert.ok(reply.sources.length >= 12 && reply.sources.length <= 15, `${reply.sources.length} sources`);
        const names = reply.sources.map((s) => s.peerName);
        assert.equal(new Set(names).size, names.length, 'no source twice');
        for (const s of reply.sources) {
          assert.ok(secrets.has(s.peerName));
          assert.equal(s.port, 5000 + Number(s.peerName.slice(-3)));
          picks.add(s.peerName);
        }
      }
      assert.ok(picks.size > 15, `four searches should not all pick the same ${picks.size} sources`);
    });
  });

  describe('O online list', function () {
    async function fill(c: Client, n: number, prefix: string, secret: Buffer): Promise<string[]> {
      const names: string[] = [];
      for (let i = 0; i < n; i++) {
        const content = `${prefix}-content-number-${String(i).padStart(4, '0')}.txt`;
        assert.equal((await c.register({ peer: `${prefix}-peer`, content, secret })).type, 'A');
        names.push(`${prefix}-peer/${content}`);
      }
      return names;
    }

    it('pages more than 1200 bytes of entries in registration order, next = 0 on the last page', async function () {
      const c = await client();
      const names = await fill(c, 40, 'p', alice); // ~40 * 110 bytes: four pages
      let cursor = 0;
      let pages = 0;
      const seen: string[] = [];
      for (;;) {
        const page = await c.online(cursor);
        assert.equal(page.type, 'O');
        if (page.type !== 'O') return;
        pages++;
        assert.ok(page.entries.length > 0);
        seen.push(...page.entries.map((e) => `${e.peerName}/${e.contentName}`));
        if (page.next === 0) break;
        assert.ok(page.next > cursor, 'the cursor moves forward');
        cursor = page.next;
      }
      assert.ok(pages >= 3, `${pages} pages`);
      assert.deepEqual(seen, names);
      const last = await c.online(0xffff_ffff);
      assert.deepEqual(last.type === 'O' && [last.entries.length, last.next], [0, 0]);
    });

    it('keeps its place when entries are added and removed between pages', async function () {
      const c = await client();
      const names = await fill(c, 30, 'p', alice);
      const first = await c.online(0);
      assert.equal(first.type, 'O');
      if (first.type !== 'O') return;
      const firstNames = first.entries.map((e) => `${e.peerName}/${e.contentName}`);
      const onFirst = firstNames.length;
      assert.ok(first.next !== 0 && onFirst < 30);
      // Remove one already listed and one not yet listed; add new ones at the end.
      const removedListed = names[0];
      const removedAhead = names[onFirst + 2];
      assert.equal((await c.deregister('p-peer', removedListed.split('/')[1], alice)).type, 'A');
      assert.equal((await c.deregister('p-peer', removedAhead.split('/')[1], alice)).type, 'A');
      const added = await fill(c, 3, 'q', bob);
      const rest: string[] = [];
      let cursor = first.next;
      while (cursor !== 0) {
        const page = await c.online(cursor);
        if (page.type !== 'O') assert.fail(`O answered ${page.type}`);
        rest.push(...page.entries.map((e) => `${e.peerName}/${e.contentName}`));
        cursor = page.next;
      }
      const expected = [...names.slice(onFirst).filter((n) => n !== removedAhead), ...added];
      assert.deepEqual(rest, expected, 'nothing skipped, nothing repeated');
    });

    it('keeps a refreshed entry in its place', async function () {
      const c = await client();
      const names = await fill(c, 3, 'p', alice);
      await c.register({ peer: 'p-peer', content: names[0].split('/')[1], secret: alice, port: 4999 });
      const all = await c.onlineAll();
      assert.deepEqual(all.map((e) => `${e.peerName}/${e.contentName}`), names);
      assert.equal(all[0].port, 4999);
    });
  });

  describe('retries', function () {
    it('re-sends the cached reply for a retried request instead of running it twice (T after a lost A)', async function () {
      const c = await client();
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      const id = c.probe.id();
      const request = c.probe.encode({ type: 'T', requestId: id, cookie: c.cookie, secret: alice, peerName: 'sam', contentName: 'a.txt' });
      const first = await c.probe.roundTrip(request);
      const retry = await c.probe.roundTrip(request);
      assert.equal(decodeIndexReply(first).type, 'A');
      assert.deepEqual(retry, first);
      expectCode(await c.deregister('sam', 'a.txt', alice), 'NOT_REGISTERED');
      assert.equal(srv.server.stats.retries, 1);
    });

    it('still recognises the retry after a re-handshake gave the client a new cookie', async function () {
      const c = await client();
      clock.advance(239_000); // the cookie is about to leave the previous window
      assert.equal((await c.register({ peer: 'sam', content: 'a.txt', secret: alice })).type, 'A');
      const id = c.probe.id();
      const first = await c.deregister('sam', 'a.txt', alice, id);
      clock.advance(2_000);
      expectCode(await c.deregister('sam', 'a.txt', alice, id), 'BAD_COOKIE');
      c.cookie = await c.probe.handshake();
      const retry = await c.deregister('sam', 'a.txt', alice, id);
      assert.deepEqual(retry, first);
      assert.equal(retry.type, 'A');
    });

    it('does not mistake a different request that reuses an id for a retry', async function () {
      const c = await client();
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      const id = c.probe.id();
      expectCode(await c.search('zzz.txt', id), 'NOT_FOUND');
      const other = await c.search('a.txt', id);
      assert.equal(other.type, 'S');
    });

    it('forgets a reply after 30 s, and then refuses the repeat (REPLAYED) rather than running it again', async function () {
      const c = await client();
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      const id = c.probe.id();
      assert.equal((await c.deregister('sam', 'a.txt', alice, id)).type, 'A');
      clock.advance(30_001);
      expectCode(await c.deregister('sam', 'a.txt', alice, id), 'REPLAYED');
      assert.equal(srv.server.stats.retries, 0, 'not answered from the reply cache');
    });
  });

  describe('leases', function () {
    it('removes an entry one lease after its last R and emits expired', async function () {
      const c = await client();
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice, port: 4100 });
      await c.register({ peer: 'kim', content: 'b.txt', secret: bob });
      clock.advance(30_000);
      await c.register({ peer: 'kim', content: 'b.txt', secret: bob }); // refreshed: lives 30 s longer
      const expired = once(srv.server, 'expired') as Promise<[ExpiredEntry[]]>;
      clock.advance(30_000);
      const [gone] = await expired;
      assert.deepEqual(gone, [{ peerName: 'sam', contentName: 'a.txt', host: '127.0.0.1', port: 4100 }]);
      expectCode(await c.search('a.txt'), 'NOT_FOUND');
      assert.equal((await c.search('b.txt')).type, 'S');
      const later = once(srv.server, 'expired') as Promise<[ExpiredEntry[]]>;
      clock.advance(30_000);
      assert.deepEqual((await later)[0].map((e) => e.peerName), ['kim']);
      assert.equal(srv.server.registry.size, 0);
    });

    it('logs a new registration at info, a lease refresh only at debug, and expiries at info with counts', async function () {
      const lines: string[] = [];
      const logged = await startIndexServer({ now: clock.now, ttlSeconds: 60, sweepIntervalMs: 3_600_000, log: (level, m) => lines.push(`${level} ${m}`) });
      try {
        const c = await Client.open(logged);
        clients.push(c);
        await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
        await c.register({ peer: 'sam', content: 'b.txt', secret: alice });
        for (let minute = 0; minute < 3; minute++) await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
        const info = () => lines.filter((l) => l.startsWith('info ') && !/listening/.test(l));
        assert.deepEqual(
          info().map((l) => l.replace(/:\d+ /, ':PORT ')),
          [
            'info R sam a.txt from 127.0.0.1:PORT -> A (registered; 1 held)',
            'info R sam b.txt from 127.0.0.1:PORT -> A (registered; 2 held)',
          ],
          'three refreshes add no info line',
        );
        assert.equal(lines.filter((l) => /^debug R sam a\.txt .* -> A \(refreshed; 2 held\)$/.test(l)).length, 3);
        clock.advance(60_000);
        logged.server.sweep();
        assert.deepEqual(info().slice(2), ['info lease ended for 2 registrations; 0 left']);
      } finally {
        await logged.close();
      }
    });

    it('hides an expired entry from S and O even before the sweep runs, and frees its peer name after it', async function () {
      const slow = await startIndexServer({ now: clock.now, ttlSeconds: 60, sweepIntervalMs: 3_600_000 });
      try {
        const c = await Client.open(slow);
        clients.push(c);
        await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
        clock.advance(60_000);
        expectCode(await c.search('a.txt'), 'NOT_FOUND');
        assert.deepEqual(await c.onlineAll(), []);
        assert.equal(slow.server.sweep().length, 1);
        assert.equal((await c.register({ peer: 'sam', content: 'b.txt', secret: bob })).type, 'A');
      } finally {
        await slow.close();
      }
    });
  });

  describe('robustness', function () {
    it('answers a malformed request with E MALFORMED echoing its id, never larger than the request', async function () {
      const c = await client();
      const full = encodeIndexRequest({ type: 'S', requestId: 77, cookie: c.cookie, contentName: 'some-name.txt' });
      const truncated = full.subarray(0, full.length - 3);
      const raw = await c.probe.roundTrip(truncated);
      assert.ok(raw.length <= truncated.length);
      const reply = decodeIndexReply(raw);
      expectCode(reply, 'MALFORMED');
      assert.equal(reply.requestId, 77);
      const bad = Buffer.from(full);
      bad[0] = 'Z'.charCodeAt(0);
      expectCode(decodeIndexReply(await c.probe.roundTrip(bad)), 'UNKNOWN_TYPE');
    });

    it('drops oversize datagrams and datagrams too small for any reply without a word', async function () {
      const c = await client();
      await c.probe.send(Buffer.alloc(MAX_DATAGRAM + 1, 0x52));
      await c.probe.send(Buffer.from([0x48]));
      await c.probe.send(Buffer.alloc(HEADER_BYTES + 2));
      await c.probe.expectSilence();
    });

    it('turns a bug into E INTERNAL, logs it, and keeps serving', async function () {
      class BrokenStore extends MemoryStore {
        override sourcesOf(contentName: string) {
          if (contentName === 'boom.txt') throw new TypeError('simulated bug');
          return super.sourcesOf(contentName);
        }
      }
      const lines: string[] = [];
      const broken = await startIndexServer({ store: new BrokenStore(), log: (level, m) => lines.push(`${level} ${m}`) });
      try {
        const c = await Client.open(broken);
        clients.push(c);
        await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
        expectCode(await c.search('boom.txt'), 'INTERNAL');
        assert.ok(lines.some((l) => l.startsWith('error') && l.includes('simulated bug')), lines.join('\n'));
        assert.equal((await c.search('a.txt')).type, 'S');
      } finally {
        await broken.close();
      }
    });

    it('answers a burst of requests that arrive together, every one under its own id and in the order they came', async function () {
      const c = await client();
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      const ids = Array.from({ length: 40 }, () => c.probe.id());
      await Promise.all(ids.map((requestId) => c.probe.send(encodeIndexRequest({ type: 'S', requestId, cookie: c.cookie, contentName: 'a.txt' }))));
      const replies: IndexReply[] = [];
      for (let i = 0; i < ids.length; i++) replies.push(decodeIndexReply(await c.probe.next()));
      assert.deepEqual(replies.map((r) => r.requestId), ids);
      assert.ok(replies.every((r) => r.type === 'S' && r.sources.length === 1 && r.sources[0].peerName === 'sam'));
    });

    it('still sends the replies it had worked out when close() is called', async function () {
      const c = await client();
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      srv.server.once('request', () => void srv.server.close());
      const reply = await c.search('a.txt');
      assert.ok(reply.type === 'S' && reply.sources[0]?.peerName === 'sam', JSON.stringify(reply));
    });

    it("emits 'request' with the type, the source and the outcome", async function () {
      const c = await client();
      const seen = once(srv.server, 'request');
      await c.register({ peer: 'sam', content: 'a.txt', secret: alice });
      assert.deepEqual(await seen, ['R', `127.0.0.1:${c.probe.localPort}`, 'A']);
    });

    it('refuses to start on a port another server holds, with ADDRESS_IN_USE', async function () {
      const second = new IndexServer({ host: '127.0.0.1', port: srv.port });
      await assert.rejects(second.start(), (err: Error & { code?: string }) => err.code === 'ADDRESS_IN_USE' && err.message.includes(String(srv.port)));
      await second.close();
    });
  });

  describe('IPv6', function () {
    it('serves on ::1 and lists IPv6 sources with their IPv6 address', async function () {
      if (!(await canBind('::1'))) {
        this.skip(); // no IPv6 loopback on this machine
      }
      const v6 = await startIndexServer({ host: '::1' });
      try {
        assert.equal(v6.address, `[::1]:${v6.port}`);
        const c = await Client.open(v6, '::1');
        clients.push(c);
        assert.equal((await c.register({ peer: 'six', content: 'v6.txt', secret: alice, port: 6000 })).type, 'A');
        const found = await c.search('v6.txt');
        assert.equal(found.type, 'S');
        if (found.type === 'S') assert.deepEqual([found.sources[0].host, found.sources[0].port], ['::1', 6000]);
      } finally {
        await v6.close();
      }
    });

    it('on a dual-stack :: socket stores IPv4 peers as IPv4, not as ::ffff: addresses', async function () {
      if (!(await canBind('::'))) this.skip(); // no IPv6 at all on this machine
      const dual = await startIndexServer({ host: '::' });
      try {
        const c = await Client.open({ ...dual, host: '127.0.0.1' }, '127.0.0.1');
        clients.push(c);
        await c.register({ peer: 'four', content: 'v4.txt', secret: alice, port: 6001 });
        const found = await c.search('v4.txt');
        assert.equal(found.type === 'S' && found.sources[0].host, '127.0.0.1');
      } finally {
        await dual.close();
      }
    });
  });
});
