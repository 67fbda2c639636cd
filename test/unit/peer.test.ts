// Peer end to end: real index server, real peers with content servers and downloads, on loopback.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { promises as fsp } from 'node:fs';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { ConnectionState, PeerOptions, Share } from '../../src/peer/api';
import { IndexClient } from '../../src/peer/index-client';
import { Peer } from '../../src/peer/peer';
import { P2PError } from '../../src/protocol/errors';
import { allOnline, startIndexServer, RunningIndexServer } from '../support/index-server';
import { makeTempDir, removeDir, sha256Hex, sha256OfFile, waitUntil } from '../support/peers';
import { isP2P } from '../support/p2p-error';


/** Resolves when the peer is in `state` (now or later); fails after `ms`. */
function reachState(peer: Peer, state: ConnectionState, ms = 15_000): Promise<void> {
  if (peer.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      peer.off('state', onState);
      reject(new Error(`peer ${peer.peerName} stayed ${peer.state}, expected ${state}`));
    }, ms);
    const onState = (s: ConnectionState) => {
      if (s !== state) return;
      clearTimeout(timer);
      peer.off('state', onState);
      resolve();
    };
    peer.on('state', onState);
  });
}

describe('Peer', function () {
  let index: RunningIndexServer | undefined;
  let dir: string;
  const peers: Peer[] = [];
  const extra: Array<() => Promise<void>> = [];

  async function startPeer(peerName: string, opts: Partial<PeerOptions> = {}): Promise<Peer> {
    const peer = await Peer.start({
      peerName,
      index: index!.address,
      listenHost: '127.0.0.1',
      downloadFolder: path.join(dir, `${peerName}-downloads`),
      requestTimeoutMs: 200,
      requestTries: 4,
      ...opts,
    });
    peers.push(peer);
    return peer;
  }

  async function file(name: string, bytes: Buffer | string, sub = 'shared'): Promise<string> {
    await fsp.mkdir(path.join(dir, sub), { recursive: true });
    const p = path.join(dir, sub, name);
    await fsp.writeFile(p, bytes);
    return p;
  }

  /** What the index lists right now, seen by an independent client. */
  async function indexListing(): Promise<string[]> {
    const c = new IndexClient({ address: { host: index!.host, port: index!.port } });
    try {
      return (await allOnline(c)).map((e) => `${e.peerName}/${e.contentName}`).sort();
    } finally {
      await c.close();
    }
  }

  async function restartIndex(opts: { ttlSeconds?: number } = {}): Promise<void> {
    const port = index!.port;
    await index!.close();
    index = await startIndexServer({ port, ...opts });
  }

  beforeEach(async () => {
    dir = await makeTempDir('peer');
    index = await startIndexServer({ ttlSeconds: 60 });
  });

  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.quit()));
    for (const f of extra.splice(0)) await f();
    await index?.close();
    index = undefined;
    await removeDir(dir);
  });

  describe('starting', () => {
    it('connects to the index, serves content on a TCP port and reports its settings', async () => {
      const peer = await Peer.start({ peerName: 'alice', index: index!.address, downloadFolder: dir, listenHost: '127.0.0.1' });
      peers.push(peer);
      assert.equal(peer.state, 'connected');
      assert.equal(peer.peerName, 'alice');
      assert.equal(peer.indexAddress, index!.address);
      assert.ok(peer.listenPort > 0);
      assert.deepEqual(peer.listLocal(), []);
    });

    it('refuses invalid options with BAD_NAME or BAD_SETTING before opening anything', async () => {
      const base = { peerName: 'p', index: index!.address, downloadFolder: dir };
      await assert.rejects(Peer.start({ ...base, peerName: ' padded ' }), isP2P('BAD_NAME', /white space/));
      await assert.rejects(Peer.start({ ...base, index: 'host:99999' }), isP2P('BAD_SETTING', /65535/));
      await assert.rejects(Peer.start({ ...base, listenPort: -1 }), isP2P('BAD_SETTING', /listen port/));
      await assert.rejects(Peer.start({ ...base, secret: Buffer.alloc(5) }), isP2P('BAD_SETTING', /32 bytes/));
      await assert.rejects(Peer.start({ ...base, requestTries: 0 }), isP2P('BAD_SETTING', /request tries/));
      await assert.rejects(Peer.start({ ...base, downloadFolder: '' }), isP2P('BAD_SETTING', /download folder/));
    });

    it('refuses a listen port already in use', async () => {
      const first = await startPeer('first');
      await assert.rejects(startPeer('second', { listenPort: first.listenPort }), isP2P('ADDRESS_IN_USE', new RegExp(`${first.listenPort}`)));
    });

    it('resolves with state unreachable when the index does not answer, and register fails with TIMEOUT naming the address', async () => {
      const silent = dgram.createSocket('udp4');
      await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
      extra.push(() => new Promise<void>((r) => silent.close(() => r())));
      const port = (silent.address() as AddressInfo).port;

      const peer = await startPeer('lonely', { index: `127.0.0.1:${port}`, requestTimeoutMs: 50, requestTries: 2 });
      assert.equal(peer.state, 'unreachable');
      assert.match(peer.stateDetail ?? '', new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.ok(peer.listenPort > 0, 'the content server is up anyway');

      const f = await file('x.txt', 'x');
      await assert.rejects(peer.register(f), isP2P('TIMEOUT', new RegExp(`no answer from index server 127\\.0\\.0\\.1:${port} after 2 tries`)));
      assert.deepEqual(peer.listLocal(), [], 'a share the index never took is not kept');
    });
  });

  describe('sharing and downloading between two peers', () => {
    it('registers a file, lists it online, lets another peer download identical bytes, and that peer becomes a source', async () => {
      const alice = await startPeer('alice');
      const bob = await startPeer('bob');
      const bytes = randomBytes(300_000);
      const f = await file('Text.txt', bytes);

      const sharesEvents: Share[][] = [];
      alice.on('shares-changed', (s) => sharesEvents.push(s));
      const share = await alice.register(f);
      assert.equal(share.contentName, 'Text.txt');
      assert.equal(share.sha256, sha256Hex(bytes));
      assert.deepEqual(alice.listLocal().map((s) => s.contentName), ['Text.txt']);
      assert.equal(sharesEvents.length, 1);

      const online = await bob.listOnline();
      assert.deepEqual(online, {
        items: [{ peerName: 'alice', contentName: 'Text.txt', host: '127.0.0.1', port: alice.listenPort, size: bytes.length, sha256: sha256Hex(bytes) }],
        next: undefined,
      });

      const progress: number[] = [];
      const result = await bob.download('Text.txt', { onProgress: (p) => progress.push(p.received) });
      assert.equal(result.path, path.join(dir, 'bob-downloads', 'Text.txt'));
      assert.equal(await sha256OfFile(result.path), sha256Hex(bytes));
      assert.deepEqual(await fsp.readFile(result.path), bytes);
      assert.deepEqual(result.sources, ['alice']);
      assert.equal(result.size, bytes.length);
      assert.equal(result.shared, true);
      assert.ok(progress.length > 0 && progress[progress.length - 1] === bytes.length);

      const sources = await alice.search('Text.txt');
      assert.deepEqual(sources.map((s) => s.peerName).sort(), ['alice', 'bob']);
      assert.ok(sources.every((s) => s.sha256 === sha256Hex(bytes)));
      assert.deepEqual(bob.listLocal().map((s) => [s.contentName, s.path]), [['Text.txt', result.path]]);
      assert.equal((await bob.listOnline()).items.length, 2);
    });

    it('shares under a chosen content name', async () => {
      const alice = await startPeer('alice');
      await alice.register(await file('local.bin', 'abc'), 'Renamed.bin');
      assert.deepEqual((await alice.search('Renamed.bin')).map((s) => s.peerName), ['alice']);
      assert.deepEqual(await alice.search('local.bin'), []);
    });

    it('does not register the download when share is false', async () => {
      const alice = await startPeer('alice');
      const bob = await startPeer('bob', { shareDownloads: true });
      await alice.register(await file('a.txt', 'aaa'));
      const result = await bob.download('a.txt', { share: false, folder: path.join(dir, 'elsewhere') });
      assert.equal(result.shared, false);
      assert.equal(path.dirname(result.path), path.join(dir, 'elsewhere'));
      assert.deepEqual(bob.listLocal(), []);
      assert.deepEqual((await bob.search('a.txt')).map((s) => s.peerName), ['alice']);
    });

    it('asks which version when sources disagree, takes the one pinned by hash or prefix, and only from the peer asked for', async () => {
      const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((n) => startPeer(n)));
      const common = Buffer.from('the common version');
      const rare = Buffer.from('the rare version');
      await a.register(await file('V.txt', common, 'a'));
      await b.register(await file('V.txt', common, 'b'));
      await c.register(await file('V.txt', rare, 'c'));

      await assert.rejects(d.download('V.txt', { share: false, folder: path.join(dir, 'd1') }), isP2P('VERSIONS_DIFFER', /2 versions/));
      const byPrefix = await d.download('V.txt', { share: false, sha256: sha256Hex(common).slice(0, 10), folder: path.join(dir, 'd1') });
      assert.deepEqual(await fsp.readFile(byPrefix.path), common);

      const byHash = await d.download('V.txt', { share: false, sha256: sha256Hex(rare).toUpperCase(), folder: path.join(dir, 'd2') });
      assert.deepEqual(byHash.sources, ['c']);
      assert.deepEqual(await fsp.readFile(byHash.path), rare);

      const fromB = await d.download('V.txt', { share: false, fromPeer: 'b', folder: path.join(dir, 'd3') });
      assert.deepEqual(fromB.sources, ['b']);

      await assert.rejects(d.download('V.txt', { fromPeer: 'nobody' }), isP2P('NOT_FOUND', /"nobody" does not share/));
      await assert.rejects(d.download('V.txt', { sha256: 'ab'.repeat(32) }), isP2P('NOT_FOUND', /SHA-256/));
      await assert.rejects(d.download('V.txt', { sha256: 'xyz' }), isP2P('BAD_SETTING'));
    });

    it('says NOT_FOUND when nobody shares the content, and NO_SOURCES when only this peer does', async () => {
      const alice = await startPeer('alice');
      await assert.rejects(alice.download('Nothing.txt'), isP2P('NOT_FOUND'));
      assert.deepEqual(await alice.search('Nothing.txt'), []);
      await alice.register(await file('Mine.txt', 'mine'));
      await assert.rejects(alice.download('Mine.txt'), isP2P('NO_SOURCES', /only this peer/));
    });

    it('cancels a download when its signal aborts', async () => {
      const alice = await startPeer('alice', { uploadRateLimit: 64 * 1024 });
      const bob = await startPeer('bob');
      await alice.register(await file('slow.bin', randomBytes(2 * 1024 * 1024)));
      const abort = new AbortController();
      const pending = bob.download('slow.bin', { signal: abort.signal, onProgress: (p) => p.received > 0 && abort.abort() });
      await assert.rejects(pending, isP2P('CANCELLED'));
      assert.deepEqual(bob.listLocal(), []);
    });

    it('refuses invalid content names with BAD_NAME', async () => {
      const alice = await startPeer('alice');
      await assert.rejects(alice.search('a/b'), isP2P('BAD_NAME'));
      await assert.rejects(alice.download('..'), isP2P('BAD_NAME'));
      await assert.rejects(alice.register(await file('ok.txt', 'x'), 'bad:name'), isP2P('BAD_NAME'));
    });
  });

  describe('peer names', () => {
    it('gets NAME_TAKEN for a peer name another peer owns, keeps nothing, and works after setPeerName', async () => {
      const alice = await startPeer('alice');
      const impostor = await startPeer('alice');
      await alice.register(await file('Same.txt', 'same', 'a'));

      const f = await file('Same.txt', 'same', 'b');
      await assert.rejects(impostor.register(f), isP2P('NAME_TAKEN'));
      assert.deepEqual(impostor.listLocal(), []);

      await impostor.setPeerName('alice2');
      assert.equal(impostor.peerName, 'alice2');
      await impostor.register(f);
      assert.deepEqual(await indexListing(), ['alice/Same.txt', 'alice2/Same.txt']);
    });

    it('moves every share to the new name and removes the old name’s entries', async () => {
      const sam = await startPeer('sam');
      await sam.register(await file('one.txt', '1'));
      await sam.register(await file('two.txt', '2'));
      await sam.setPeerName('samuel');
      assert.deepEqual(await indexListing(), ['samuel/one.txt', 'samuel/two.txt']);
      assert.deepEqual(sam.listLocal().map((s) => s.contentName), ['one.txt', 'two.txt']);
    });

    it('rolls back to the old name when the new one is taken', async () => {
      const owner = await startPeer('taken');
      await owner.register(await file('o.txt', 'o', 'owner'));
      const sam = await startPeer('sam');
      await sam.register(await file('s.txt', 's', 'sam'));
      await assert.rejects(sam.setPeerName('taken'), isP2P('NAME_TAKEN'));
      assert.equal(sam.peerName, 'sam');
      assert.deepEqual(await indexListing(), ['sam/s.txt', 'taken/o.txt']);
      await assert.rejects(sam.setPeerName('bad\u0007name'), isP2P('BAD_NAME'));
    });
  });

  describe('de-registering and quitting', () => {
    it('de-registers one content and stops serving it', async () => {
      const alice = await startPeer('alice');
      await alice.register(await file('keep.txt', 'k'));
      await alice.register(await file('drop.txt', 'd'));
      await alice.deregister('drop.txt');
      assert.deepEqual(alice.listLocal().map((s) => s.contentName), ['keep.txt']);
      assert.deepEqual(await indexListing(), ['alice/keep.txt']);
      await assert.rejects(alice.deregister('never.txt'), isP2P('NOT_REGISTERED'));
    });

    it('removes a share locally even when the index no longer lists it', async () => {
      const alice = await startPeer('alice');
      await alice.register(await file('x.txt', 'x'));
      // Forget the index's entries behind the peer's back: a restart loses everything it held.
      await restartIndex({ ttlSeconds: 60 });
      await alice.deregister('x.txt');
      assert.deepEqual(alice.listLocal(), []);
    });

    it('quits removing only its own entries, then refuses every call with CLOSED', async () => {
      const alice = await startPeer('alice');
      const bob = await startPeer('bob');
      await alice.register(await file('a.txt', 'a'));
      await bob.register(await file('b1.txt', 'b1'));
      await bob.register(await file('b2.txt', 'b2'));
      const states: ConnectionState[] = [];
      bob.on('state', (s) => states.push(s));

      await bob.quit();
      assert.equal(bob.state, 'stopped');
      assert.deepEqual(states, ['stopped']);
      assert.deepEqual(await indexListing(), ['alice/a.txt']);
      await bob.quit(); // idempotent
      assert.throws(() => bob.listLocal(), isP2P('CLOSED'));
      await assert.rejects(bob.listOnline(), isP2P('CLOSED'));
      await assert.rejects(bob.register(await file('late.txt', 'l')), isP2P('CLOSED'));
      await assert.rejects(bob.download('a.txt'), isP2P('CLOSED'));
    });

    it('quits within about 2 s when the index is gone', async () => {
      const alice = await startPeer('alice', { requestTimeoutMs: 500, requestTries: 5 });
      await alice.register(await file('a.txt', 'a'));
      await index!.close();
      const started = performance.now();
      await alice.quit();
      const took = performance.now() - started;
      assert.ok(took < 3000, `quit took ${took} ms`);
      assert.equal(alice.state, 'stopped');
    });
  });

  describe('leases', () => {
    it('refreshes registrations, so they outlive the lease and come back after an index restart on the same port', async () => {
      await index!.close();
      index = await startIndexServer({ ttlSeconds: 3 });
      let refreshes = 0;
      const expired: unknown[] = [];
      index.server.on('request', (type: string, _source: string, outcome: string) => {
        if (type === 'R' && outcome === 'A') refreshes++;
      });
      index.server.on('expired', (gone: unknown[]) => expired.push(...gone));
      const alice = await startPeer('alice');
      await alice.register(await file('a.txt', 'a'));

      // Six refreshes, one every third of the 3 s lease, span two whole leases: the entry never expires.
      await waitUntil(() => refreshes >= 7, 'six refreshes', 15_000);
      assert.deepEqual(expired, []);
      assert.deepEqual(await indexListing(), ['alice/a.txt']);

      await restartIndex({ ttlSeconds: 3 });
      assert.deepEqual(await indexListing(), [], 'a restarted index starts empty');
      await waitUntil(async () => (await indexListing()).includes('alice/a.txt'), 'the registration to come back', 10_000);
    });

    it('turns unreachable while the index is down and connected again when it is back, re-registering everything', async () => {
      await index!.close();
      index = await startIndexServer({ ttlSeconds: 3 });
      const alice = await startPeer('alice', { requestTimeoutMs: 100, requestTries: 2 });
      await alice.register(await file('a.txt', 'a'));
      await alice.register(await file('b.txt', 'b'));
      const port = index.port;
      await index.close();
      await reachState(alice, 'unreachable');
      // The index's port is closed now: the kernel says so at once (ICMP port unreachable).
      assert.match(alice.stateDetail ?? '', /ECONNREFUSED/);

      index = await startIndexServer({ port, ttlSeconds: 3 });
      await reachState(alice, 'connected');
      await waitUntil(async () => (await indexListing()).length === 2, 'both registrations to come back', 10_000);
      assert.deepEqual(await indexListing(), ['alice/a.txt', 'alice/b.txt']);
    });
  });

  describe('refusals during refresh', () => {
    it('reports share-error NAME_TAKEN when another peer took the name while the index was restarting', async () => {
      await index!.close();
      index = await startIndexServer({ ttlSeconds: 6 });
      const alice = await startPeer('alice');
      await alice.register(await file('a.txt', 'a', 'alice'));
      // Right after one of alice's refreshes, so the next one is ~2 s away: time for the impostor to get there first.
      await new Promise<void>((resolve) =>
        index!.server.on('request', (type: string, _source: string, outcome: string) => type === 'R' && outcome === 'A' && resolve()),
      );
      await restartIndex({ ttlSeconds: 6 });
      const impostor = await startPeer('alice');
      await impostor.register(await file('i.txt', 'i', 'impostor'));

      const [contentName, error] = await new Promise<[string, P2PError]>((resolve) => alice.on('share-error', (n, e) => resolve([n, e])));
      assert.equal(contentName, 'a.txt');
      assert.equal(error.code, 'NAME_TAKEN');
      assert.deepEqual(alice.listLocal().map((s) => s.contentName), ['a.txt'], 'the share stays, to register again once the name is free');
      assert.equal(alice.state, 'connected');
    });
  });

  describe('watching shared files', () => {
    it('re-registers a shared file that changes with its new size and hash, and de-registers one that is deleted', async () => {
      const alice = await startPeer('alice');
      const f = await file('live.txt', 'first version');
      await alice.register(f);

      await fsp.writeFile(f, 'second, longer version');
      const want = sha256Hex(Buffer.from('second, longer version'));
      await waitUntil(async () => (await alice.search('live.txt'))[0]?.sha256 === want, 'the new hash at the index');
      assert.equal((await alice.search('live.txt'))[0].size, 'second, longer version'.length);
      assert.equal(alice.listLocal()[0].sha256, want);

      const emptied = new Promise<Share[]>((resolve) => alice.on('shares-changed', (s) => s.length === 0 && resolve(s)));
      await fsp.unlink(f);
      await emptied;
      await waitUntil(async () => (await alice.search('live.txt')).length === 0, 'the entry to leave the index');
    });
  });

  describe('moving to another index server', () => {
    it('registers every share at the new index and removes them from the old one', async () => {
      const second = await startIndexServer({ ttlSeconds: 60 });
      extra.push(() => second.close());
      const alice = await startPeer('alice');
      await alice.register(await file('m.txt', 'm'));
      const states: ConnectionState[] = [];
      alice.on('state', (st) => states.push(st));
      await alice.setIndex(second.address);
      assert.equal(alice.indexAddress, second.address);
      assert.equal(alice.state, 'connected');
      assert.deepEqual(states, ['connected'], 'the move is announced though the state word is unchanged');
      assert.deepEqual(await indexListing(), []);
      assert.deepEqual((await alice.listOnline()).items.map((i) => `${i.peerName}/${i.contentName}`), ['alice/m.txt']);
      await assert.rejects(alice.setIndex('not a host'), isP2P('BAD_SETTING'));
    });

    it('moves even to an index that does not answer yet, and registers there once it does', async () => {
      const alice = await startPeer('alice', { requestTimeoutMs: 50, requestTries: 2 });
      await alice.register(await file('m.txt', 'm'));
      // Reserve a port for the second index, then free it so nothing answers there for now.
      const later = await startIndexServer({ ttlSeconds: 60 });
      const port = later.port;
      await later.close();

      await alice.setIndex(`127.0.0.1:${port}`);
      assert.equal(alice.state, 'unreachable');
      assert.equal(alice.indexAddress, `127.0.0.1:${port}`);
      assert.deepEqual(await indexListing(), [], 'the old index was left');
      assert.deepEqual(alice.listLocal().map((s) => s.contentName), ['m.txt']);

      const second = await startIndexServer({ port, ttlSeconds: 60 });
      extra.push(() => second.close());
      await alice.listOnline(); // any answer proves the index is back, and brings the shares there
      await reachState(alice, 'connected');
      await waitUntil(async () => (await alice.listOnline()).items.length === 1, 'the share at the new index');
    });
  });

  describe('logging', () => {
    it('reports what it does through the log option and the log event', async () => {
      const fromOption: string[] = [];
      const alice = await startPeer('alice', { log: (level, m) => fromOption.push(`${level} ${m}`) });
      const fromEvent: string[] = [];
      alice.on('log', (level, m) => fromEvent.push(`${level} ${m}`));
      await alice.register(await file('l.txt', 'l'));
      assert.ok(fromOption.some((l) => /^info registered "l\.txt"/.test(l)), fromOption.join('\n'));
      assert.ok(fromEvent.some((l) => /^info registered "l\.txt"/.test(l)), fromEvent.join('\n'));
    });
  });
});
