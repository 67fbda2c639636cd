// MemoryStore kept as columns: slots reused after removal, columns and name ids grown past their first size, and every index checked against a plain model.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { P2PError } from '../../src/protocol';
import { EntryFields, MemoryStore, Owner, RegistryEntry } from '../../src/server/store';
import { NameIndex, searchKey } from '../../src/server/name-index';

const hashOf = (s: string) => createHash('sha256').update(s).digest().toString('latin1');
const owner = (name: string): Owner => ({ kind: 'secret', digest: hashOf(`secret of ${name}`) });
const fields = (over: Partial<EntryFields> = {}): EntryFields => ({
  host: '10.0.0.1', port: 4000, size: 1, hash: hashOf('v1'), claims: '', expiresAt: 1000, ...over,
});

/** Deterministic PRNG (mulberry32), so a failing random walk can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sourcesOf(store: MemoryStore, content: string): RegistryEntry[] {
  const list = store.sourcesOf(content);
  return Array.from({ length: list.length }, (_, i) => list.at(i));
}

describe('MemoryStore columns', function () {
  it('reuses a removed entry\'s slot for the next one, and an old view of it no longer reaches the new entry', function () {
    const store = new MemoryStore();
    const first = store.add('sam', 'a.txt', owner('sam'), fields({ port: 1111 }));
    const capacity = store.cols.capacity;
    // Another view of the same entry, made before it went: it must not reach whatever takes the slot next.
    const other = store.get('sam', 'a.txt')!;
    store.remove(first);
    const second = store.add('kim', 'b.txt', owner('kim'), fields({ port: 2222, hash: hashOf('v2') }));
    assert.equal((second as unknown as { slot: number }).slot, (first as unknown as { slot: number }).slot, 'the freed slot was taken again');
    assert.equal(store.cols.capacity, capacity);
    // The removed view still reads what it held, and cannot touch the entry now in its slot.
    assert.deepEqual([first.peerName, first.contentName, first.port], ['sam', 'a.txt', 1111]);
    const internal = (err: unknown) => err instanceof P2PError && err.code === 'INTERNAL';
    assert.throws(() => store.update(first, fields()), internal);
    assert.throws(() => store.update(other, fields({ port: 3333 })), internal);
    store.remove(first);
    store.remove(other);
    assert.equal(store.size, 1);
    assert.deepEqual([second.peerName, second.contentName, second.port, second.hash], ['kim', 'b.txt', 2222, hashOf('v2')]);
    assert.equal(store.get('kim', 'b.txt')?.port, 2222);
    assert.equal(store.get('sam', 'a.txt'), undefined);
  });

  it('grows its columns and name ids past their first size with every entry intact, and refills freed slots before growing again', function () {
    const store = new MemoryStore();
    const n = 5000;
    for (let i = 0; i < n; i++) {
      store.add(`peer-${i % 97}`, `file-${i}.bin`, owner(`peer-${i % 97}`), fields({ port: 1 + i, size: i * 1000, hash: hashOf(`h${i}`), expiresAt: i }));
    }
    const grown = store.cols.capacity;
    assert.ok(grown >= n && grown > 1024, `capacity ${grown}`);
    assert.equal(store.size, n);
    assert.equal(store.contentCount, n);
    for (let i = 0; i < n; i++) {
      const e = store.get(`peer-${i % 97}`, `file-${i}.bin`)!;
      assert.deepEqual([e.port, e.size, e.hash, e.expiresAt, e.contentName], [1 + i, i * 1000, hashOf(`h${i}`), i, `file-${i}.bin`]);
    }
    for (let i = 0; i < n; i += 2) store.remove(store.get(`peer-${i % 97}`, `file-${i}.bin`)!);
    for (let i = 0; i < n / 2; i++) store.add('again', `new-${i}.bin`, owner('again'), fields());
    assert.equal(store.cols.capacity, grown, 'the freed slots were enough');
    assert.equal(store.size, n);
    assert.equal(sourcesOf(store, 'new-7.bin')[0].peerName, 'again');
    assert.equal(sourcesOf(store, 'file-1.bin')[0].port, 2);
  });

  it('keeps claims as they were given, short, long or not bytes, through refreshes and slot reuse', function () {
    const store = new MemoryStore();
    const both = `\x02\x01\x20${'r'.repeat(32)}\x02\x20${'p'.repeat(32)}`;
    const long = `\x03${'x'.repeat(120)}`;
    const wide = 'claims \u03c0';
    const a = store.add('sam', 'a.txt', owner('sam'), fields({ claims: both }));
    const b = store.add('sam', 'b.txt', owner('sam'), fields({ claims: long }));
    const c = store.add('sam', 'c.txt', owner('sam'), fields({ claims: wide }));
    assert.deepEqual([a.claims, b.claims, c.claims], [both, long, wide]);
    store.update(b, fields({ claims: both }));
    store.update(a, fields({ claims: long }));
    store.update(c, fields());
    assert.deepEqual([a.claims, b.claims, c.claims], [long, both, '']);
    store.remove(a);
    const d = store.add('kim', 'd.txt', owner('kim'), fields({ claims: 'x' }));
    assert.deepEqual([d.claims, b.claims], ['x', both]);
  });

  it('keeps names findable and entries pointing at the right name after the name ids are compacted', function () {
    const store = new MemoryStore();
    for (let i = 0; i < 3000; i++) store.add('sam', `n${i}.dat`, owner('sam'), fields({ port: 1 + i }));
    // Removing most names compacts the name ids (the dead ones outnumber the live): every entry is renamed.
    for (let i = 0; i < 3000; i++) if (i % 3 !== 0) store.remove(store.get('sam', `n${i}.dat`)!);
    assert.equal(store.contentCount, 1000);
    for (let i = 0; i < 3000; i += 3) {
      const e = store.get('sam', `n${i}.dat`)!;
      assert.deepEqual([e.contentName, e.port], [`n${i}.dat`, 1 + i]);
    }
    assert.equal(store.get('sam', 'n1.dat'), undefined);
    const names = store.entriesOf('sam').map((e) => e.contentName);
    assert.deepEqual(names, Array.from({ length: 1000 }, (_, k) => `n${3 * k}.dat`), 'registration order kept');
  });

  it('counts a content\'s versions apart only while they differ, and finds one peer among many sources', function () {
    const store = new MemoryStore();
    for (let p = 0; p < 40; p++) store.add(`p${p}`, 'shared.iso', owner(`p${p}`), fields({ hash: hashOf(p < 30 ? 'v1' : 'v2'), size: p < 30 ? 1 : 2 }));
    const versions = () => store.searchNames('shared', 0, 10, 100).records[0].versions.map((v) => [v.size, v.sources]).sort();
    assert.deepEqual(versions(), [[1, 30], [2, 10]]);
    // The 40 sources are past the bucket's by-peer threshold: each peer's entry is found directly.
    for (let p = 0; p < 40; p++) assert.equal(store.get(`p${p}`, 'shared.iso')?.peerName, `p${p}`);
    for (let p = 30; p < 40; p++) store.update(store.get(`p${p}`, 'shared.iso')!, fields({ hash: hashOf('v1'), size: 1 }));
    assert.deepEqual(versions(), [[1, 40]]);
    for (let p = 0; p < 39; p++) store.remove(store.get(`p${p}`, 'shared.iso')!);
    assert.deepEqual(versions(), [[1, 1]]);
    assert.equal(sourcesOf(store, 'shared.iso')[0].peerName, 'p39');
  });

  it('keeps a name apart when it is not its own search key, and finds it by its key', function () {
    const index = new NameIndex();
    const names = ['Readme.TXT', 'cafe\u0301.txt', 'plain.txt', 'ÜBER.md', '日本語.txt'];
    const ids = names.map((n) => index.add(n));
    names.forEach((n, i) => {
      assert.equal(index.find(n), ids[i]);
      assert.equal(index.name(ids[i]), n);
    });
    assert.equal(index.find('readme.txt'), -1, 'found by its own name only');
    const hits = (q: string) => index.scan(searchKey(q), 0, 10, 100).ids.map((id) => index.name(id));
    assert.deepEqual(hits('README'), ['Readme.TXT']);
    assert.deepEqual(hits('café'), ['cafe\u0301.txt']);
    assert.deepEqual(hits('über'), ['ÜBER.md']);
    assert.deepEqual(hits('本'), ['日本語.txt']);
    assert.deepEqual(hits('.txt').length, 4);
  });

  it('tells a name from one whose code units are the other\'s UTF-8 bytes, should their hashes ever meet', function () {
    const index = new NameIndex();
    const id = index.add('caf\u00e9.txt');
    // 'Ã©' is U+00C3 U+00A9: the code units of the two UTF-8 bytes of 'é'. Asked directly, as a hash collision would ask.
    const holds = (index as unknown as { holds(id: number, name: string): boolean }).holds.bind(index);
    assert.equal(holds(id, 'caf\u00e9.txt'), true);
    assert.equal(holds(id, 'caf\u00c3\u00a9.txt'), false);
    assert.equal(index.find('caf\u00c3\u00a9.txt'), -1);
  });

  it('NameIndex agrees with a Map through thousands of adds and removals: lookups across collisions, growth and compactions', function () {
    const rand = prng(6122026);
    const seen: number[][] = [];
    const index = new NameIndex((moved) => seen.push(Array.from(moved)));
    const model = new Map<string, number>();
    let lastSeq = 0;
    for (let step = 0; step < 40_000; step++) {
      const name = `n${Math.floor(rand() * 4000)}${rand() < 0.1 ? 'É' : ''}.bin`;
      const id = index.find(name);
      assert.equal(id >= 0, model.has(name), `find ${name} at step ${step}`);
      if (id >= 0) assert.equal(id, model.get(name));
      if (id < 0 && rand() < 0.6) {
        const added = index.add(name);
        assert.ok(index.seqOf(added) > lastSeq, 'a new name gets the next sequence number');
        lastSeq = index.seqOf(added);
        model.set(name, added);
      } else if (id >= 0 && rand() < 0.7) {
        const before = seen.length;
        index.remove(id);
        model.delete(name);
        // A compaction renumbers every id: the model follows what it was told.
        for (const moved of seen.slice(before)) for (const [k, v] of model) model.set(k, moved[v]);
      }
      if (step % 5000 === 0) for (const [k, v] of model) assert.equal(index.name(v), k);
    }
    assert.ok(seen.length > 0, 'removals compacted the ids at least once');
    assert.equal(index.size, model.size);
    for (const [k, v] of model) assert.equal(index.find(k), v);
  });

  it('agrees with a plain model through a random walk of adds, refreshes, moves, removals and sweeps', function () {
    const rand = prng(20261206);
    const store = new MemoryStore();
    const model = new Map<string, EntryFields & { peer: string; content: string }>();
    let now = 0;
    const check = (step: number) => {
      assert.equal(store.size, model.size, `size at step ${step}`);
      const contents = new Map<string, Map<string, number>>();
      const peers = new Set<string>();
      const bySource = new Map<string, number>();
      for (const m of model.values()) {
        peers.add(m.peer);
        bySource.set(m.host, (bySource.get(m.host) ?? 0) + 1);
        const versions = contents.get(m.content) ?? new Map<string, number>();
        const v = `${m.size}:${Buffer.from(m.hash, 'latin1').toString('hex')}`;
        versions.set(v, (versions.get(v) ?? 0) + 1);
        contents.set(m.content, versions);
        const e = store.get(m.peer, m.content);
        assert.ok(e, `${m.peer}/${m.content} at step ${step}`);
        assert.deepEqual([e.host, e.port, e.size, e.hash, e.claims, e.expiresAt], [m.host, m.port, m.size, m.hash, m.claims, m.expiresAt]);
      }
      assert.equal(store.peerCount, peers.size);
      assert.equal(store.contentCount, contents.size);
      for (const [host, n] of bySource) assert.equal(store.countFrom(host), n);
      for (const [content, versions] of contents) {
        const peersOf = [...model.values()].filter((m) => m.content === content).map((m) => m.peer).sort();
        assert.deepEqual(sourcesOf(store, content).map((e) => e.peerName).sort(), peersOf);
        const records = store.searchNames(searchKey(content), 0, 100, 1_000_000).records.filter((r) => r.name === content);
        const got = new Map(records[0].versions.map((v) => [`${v.size}:${Buffer.from(v.hash, 'latin1').toString('hex')}`, v.sources]));
        assert.deepEqual(got, versions, `versions of ${content} at step ${step}`);
      }
    };
    for (let step = 0; step < 8000; step++) {
      const peer = `p${Math.floor(rand() * 60)}`;
      const content = `c${Math.floor(rand() * 40)}.bin`;
      const key = `${peer}/${content}`;
      const roll = rand();
      const f = fields({
        host: `10.0.0.${Math.floor(rand() * 5)}`, port: 1 + Math.floor(rand() * 60000), size: Math.floor(rand() * 3),
        hash: hashOf(`v${Math.floor(rand() * 3)}`), claims: rand() < 0.3 ? `claims ${step}` : '', expiresAt: now + 3000,
      });
      const held = store.get(peer, content);
      assert.equal(held !== undefined, model.has(key));
      if (roll < 0.5) {
        if (held) store.update(held, f);
        else store.add(peer, content, owner(peer), f);
        model.set(key, { ...f, peer, content });
      } else if (roll < 0.85) {
        if (held) store.remove(held);
        model.delete(key);
      } else {
        // One lease for all, as the registry gives: the store's lease order is its expiry order.
        now += Math.floor(rand() * 2000);
        const swept = store.takeExpired(now, 1_000_000).map((e) => `${e.peerName}/${e.contentName}`).sort();
        const expected = [...model].filter(([, m]) => m.expiresAt <= now).map(([k]) => k).sort();
        assert.deepEqual(swept, expected);
        expected.forEach((k) => model.delete(k));
      }
      if (step % 400 === 0 || step === 7999) check(step);
    }
  });
});
