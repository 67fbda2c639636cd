// Registry and MemoryStore without the network: the index's rules, and its indexes checked against a plain model.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { P2PError } from '../../src/protocol';
import { ExpiredEntry, Registry, ownerOfIp, ownerOfSecret } from '../../src/server/registry';
import { MAX_SEQ, MemoryStore, Owner } from '../../src/server/store';
import { ManualClock } from '../support/index-server';

const sha = (s: string) => createHash('sha256').update(s).digest();
const alice = ownerOfSecret(sha('alice secret'));
const bob = ownerOfSecret(sha('bob secret'));

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof P2PError, `not a P2PError: ${err}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Deterministic PRNG (mulberry32), so a failing random walk can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function walkPages(reg: Registry): string[] {
  const out: string[] = [];
  let cursor = 0;
  do {
    const page = reg.page(cursor);
    out.push(...page.entries.map((e) => `${e.peerName}/${e.contentName}`));
    assert.ok(page.next === 0 || page.next > cursor);
    cursor = page.next;
  } while (cursor !== 0);
  return out;
}

function walkClassic(reg: Registry): string[] {
  const out: string[] = [];
  let offset = 0;
  do {
    const page = reg.classicPage(offset);
    out.push(...page.lines.map((l) => `${l.peerName}/${l.contentName}`));
    assert.ok(page.nextOffset === 0 || page.nextOffset > offset);
    offset = page.nextOffset;
  } while (offset !== 0);
  return out;
}

describe('Registry', function () {
  let clock: ManualClock;
  let reg: Registry;
  const add = (peerName: string, contentName: string, owner: Owner = alice, port = 4000) =>
    reg.register({ peerName, contentName, owner, host: '10.0.0.1', port, size: 1, sha256: sha(contentName) });

  beforeEach(function () {
    clock = new ManualClock();
    reg = new Registry(new MemoryStore(), { now: clock.now, ttlSeconds: 10 });
  });

  it('registers, refreshes in place and keeps one entry per (peer, content)', function () {
    assert.equal(add('sam', 'a.txt').refreshed, false);
    const again = reg.register({ peerName: 'sam', contentName: 'a.txt', owner: alice, host: '10.0.0.2', port: 4001, size: 9, sha256: sha('new') });
    assert.equal(again.refreshed, true);
    assert.equal(reg.size, 1);
    const [s] = reg.search('a.txt');
    assert.deepEqual([s.host, s.port, s.size, s.sha256.toString('hex')], ['10.0.0.2', 4001, 9, sha('new').toString('hex')]);
  });

  it('checks names, then ownership, then caps', function () {
    throwsCode(() => add('sam', 'a/b'), 'BAD_NAME', /path separator/);
    throwsCode(() => add('sam', 'a.txt', alice, 0), 'BAD_ADDRESS');
    add('sam', 'a.txt');
    throwsCode(() => add('sam', 'b.txt', bob), 'NAME_TAKEN', /"sam"/);
    throwsCode(() => add('sam', 'b.txt', ownerOfIp('10.0.0.1')), 'NAME_TAKEN');
    // A classic R of a listed pair is refused in the report's words, whoever holds the pair.
    throwsCode(() => add('sam', 'a.txt', ownerOfIp('10.0.0.1')), 'ALREADY_LISTED');
    throwsCode(() => reg.register({ peerName: 'x', contentName: 'y', owner: alice, host: '1.1.1.1', port: 1, size: 0, sha256: Buffer.alloc(3) }), 'MALFORMED');
  });

  it('lets only the owner de-register: NAME_TAKEN for another secret, NOT_OWNER for another classic IP', function () {
    add('sam', 'a.txt');
    add('old', 'b.txt', ownerOfIp('10.0.0.5'));
    throwsCode(() => reg.deregister('sam', 'a.txt', bob), 'NAME_TAKEN');
    throwsCode(() => reg.deregister('old', 'b.txt', ownerOfIp('10.0.0.6')), 'NOT_OWNER', /10\.0\.0\.6/);
    throwsCode(() => reg.deregister('sam', 'zzz.txt', alice), 'NOT_REGISTERED');
    throwsCode(() => reg.deregister('ghost', '', alice), 'NOT_REGISTERED');
    assert.equal(reg.deregister('old', 'b.txt', ownerOfIp('10.0.0.5')), 1);
    assert.equal(reg.deregister('sam', '', alice), 1);
    assert.equal(reg.size, 0);
  });

  it('sweeps expired leases oldest first, in batches', function () {
    add('a', '1.txt');
    clock.advance(1000);
    add('b', '2.txt');
    add('c', '3.txt');
    clock.advance(1000);
    add('a', '1.txt'); // refreshed: now the youngest
    clock.advance(9000);
    assert.deepEqual(reg.sweep(1).map((e: ExpiredEntry) => e.peerName), ['b']);
    assert.deepEqual(reg.sweep().map((e) => e.peerName), ['c']);
    assert.deepEqual(reg.sweep(), []);
    clock.advance(1000);
    assert.deepEqual(reg.sweep(), [{ peerName: 'a', contentName: '1.txt', host: '10.0.0.1', port: 4000 }]);
  });

  it('never refreshes a classic registration: the same R again is refused, and the entry is untouched', function () {
    const oldie = ownerOfIp('10.0.0.7');
    reg.register({ peerName: 'oldie', contentName: 'a.txt', owner: oldie, host: '10.0.0.7', port: 6000, size: 0 });
    throwsCode(() => reg.register({ peerName: 'oldie', contentName: 'a.txt', owner: oldie, host: '10.0.0.7', port: 6001, size: 0 }), 'ALREADY_LISTED');
    assert.equal(reg.classicFind('a.txt', '').address, '10.0.0.7:6000');
  });

  it('keeps classic registrations until their T, while new-form leases still end on time behind them', function () {
    reg.register({ peerName: 'oldie', contentName: 'a.txt', owner: ownerOfIp('10.0.0.7'), host: '10.0.0.7', port: 6000, size: 0 });
    add('sam', 'b.txt');
    clock.advance(10_000);
    assert.deepEqual(reg.sweep().map((e) => e.peerName), ['sam'], 'the classic entry first in line does not hold back the lease behind it');
    clock.advance(1e12);
    assert.deepEqual(reg.sweep(), []);
    assert.equal(reg.classicFind('a.txt', '').peerName, 'oldie');
  });

  it('ends classic registrations after --classic-ttl when the operator sets one, in expiry order across both kinds', function () {
    const r = new Registry(new MemoryStore(), { now: clock.now, ttlSeconds: 10, classicTtlSeconds: 5 });
    r.register({ peerName: 'sam', contentName: 'n.txt', owner: alice, host: '10.0.0.1', port: 1, size: 1, sha256: sha('n') });
    r.register({ peerName: 'oldie', contentName: 'c.txt', owner: ownerOfIp('10.0.0.7'), host: '10.0.0.7', port: 6000, size: 0 });
    clock.advance(5000);
    assert.deepEqual(r.sweep().map((e) => e.peerName), ['oldie']);
    clock.advance(5000);
    assert.deepEqual(r.sweep().map((e) => e.peerName), ['sam']);
  });

  it('finds a classic source for a requester: another peer first, then a classic one, whose names fit 20 bytes', function () {
    add('new-form-peer', 'song.mp3');
    reg.register({ peerName: 'oldie', contentName: 'song.mp3', owner: ownerOfIp('10.0.0.7'), host: '10.0.0.7', port: 6000, size: 0 });
    for (let i = 0; i < 20; i++) assert.deepEqual(reg.classicFind('song.mp3', ''), { peerName: 'oldie', contentName: 'song.mp3', address: '10.0.0.7:6000' });
    // The name in a classic S is the requester's: oldie asking is sent elsewhere, a stranger's name filters nothing.
    for (let i = 0; i < 20; i++) assert.equal(reg.classicFind('song.mp3', 'oldie').address, '10.0.0.1:4000');
    assert.equal(reg.classicFind('song.mp3', 'nobody').address, '10.0.0.7:6000');
    add('a-peer-name-longer-than-twenty-bytes', 'long.txt');
    throwsCode(() => reg.classicFind('long.txt', ''), 'NOT_FOUND');
  });

  it('keeps O cursors and classic offsets right through a random walk of adds, refreshes, removals and expiries', function () {
    const rand = prng(20261124);
    const model = new Map<string, { seq: number; expiresAt: number }>();
    let seq = 0;
    const owners = new Map<string, Owner>();
    for (let step = 0; step < 6000; step++) {
      const peer = `p${Math.floor(rand() * 40)}`;
      const content = `c${Math.floor(rand() * 60)}.bin`;
      const key = `${peer}/${content}`;
      const owner = owners.get(peer) ?? ownerOfSecret(sha(peer));
      const roll = rand();
      if (roll < 0.55) {
        const r = reg.register({ peerName: peer, contentName: content, owner, host: '10.0.0.1', port: 4000, size: 1, sha256: sha(key) });
        owners.set(peer, owner);
        assert.equal(r.refreshed, model.has(key));
        if (!model.has(key)) model.set(key, { seq: ++seq, expiresAt: 0 });
        model.get(key)!.expiresAt = clock.ms + 10_000;
      } else if (roll < 0.8) {
        if (model.has(key)) {
          assert.equal(reg.deregister(peer, content, owner), 1);
          model.delete(key);
        } else throwsCode(() => reg.deregister(peer, content, owner), 'NOT_REGISTERED');
      } else if (roll < 0.82) {
        const mine = [...model.keys()].filter((k) => k.startsWith(`${peer}/`));
        if (mine.length) assert.equal(reg.deregister(peer, '', owner), mine.length);
        mine.forEach((k) => model.delete(k));
      } else if (roll < 0.9) {
        clock.advance(Math.floor(rand() * 3000));
        const expected = [...model].filter(([, v]) => v.expiresAt <= clock.ms).map(([k]) => k).sort();
        const swept = reg.sweep().map((e) => `${e.peerName}/${e.contentName}`).sort();
        assert.deepEqual(swept, expected);
        expected.forEach((k) => model.delete(k));
      }
      if (step % 250 === 0 || step === 5999) {
        reg.sweep();
        for (const [k, v] of model) if (v.expiresAt <= clock.ms) model.delete(k);
        const inOrder = [...model].sort((a, b) => a[1].seq - b[1].seq).map(([k]) => k);
        assert.equal(reg.size, model.size);
        assert.deepEqual(walkPages(reg), inOrder, `O pages at step ${step}`);
        assert.deepEqual(walkClassic(reg), inOrder, `classic pages at step ${step}`);
        const byContent = new Map<string, string[]>();
        for (const k of model.keys()) {
          const [p, c] = k.split('/');
          byContent.set(c, [...(byContent.get(c) ?? []), p]);
        }
        for (const [c, peers] of byContent) assert.deepEqual(reg.search(c).map((s) => s.peerName).sort(), peers.sort());
      }
    }
  });

  it('renumbers registrations when the u32 cursor space runs out, keeping their order', function () {
    const store = new MemoryStore();
    const r = new Registry(store, { now: clock.now });
    const names = ['a', 'b', 'c', 'd'];
    for (const n of names.slice(0, 3)) r.register({ peerName: n, contentName: 'x.txt', owner: alice, host: '10.0.0.1', port: 1, size: 0 });
    r.deregister('b', 'x.txt', alice);
    (store as unknown as { nextSeq: number }).nextSeq = MAX_SEQ + 1;
    r.register({ peerName: 'd', contentName: 'x.txt', owner: bob, host: '10.0.0.1', port: 1, size: 0 });
    assert.deepEqual([...store.fromSeq(0)].map((e) => [e.peerName, e.seq]), [['a', 1], ['c', 2], ['d', 3]]);
  });

  it('pages a large index without walking it: the last page of 100 000 entries costs about what it costs at 1 000', function () {
    this.timeout(60_000);
    const owners = Array.from({ length: 1000 }, (_, p) => ownerOfSecret(sha(`peer${p}`)));
    const hash = sha('content');
    const timePages = (n: number): number => {
      const r = new Registry(new MemoryStore(), { now: clock.now, maxEntries: n, maxPerAddress: n, maxPerSecret: n });
      for (let i = 0; i < n; i++) {
        r.register({ peerName: `peer${i % 1000}`, contentName: `file-${i}.dat`, owner: owners[i % 1000], host: '10.0.0.1', port: 4000, size: i, sha256: hash });
      }
      // Remove every third entry so the seq order holds tombstones, as it does after churn.
      for (let i = 0; i < n; i += 3) r.deregister(`peer${i % 1000}`, `file-${i}.dat`, owners[i % 1000]);
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < 2000; k++) {
        r.page(n - 40 - (k % 30));
        r.classicPage(r.size - 30 - (k % 20));
      }
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    timePages(1000); // warm up the JIT
    const small = timePages(1000);
    const large = timePages(100_000);
    // A scan per page would make the large index ~100 times slower; the margin absorbs parallel suites.
    assert.ok(large < small * 20 + 50, `2000 page pairs: ${small.toFixed(1)} ms at 1k entries, ${large.toFixed(1)} ms at 100k`);
  });
});
