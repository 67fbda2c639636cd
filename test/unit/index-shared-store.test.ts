// Several index servers on one real Redis act as one index: found across servers, one owner, caps without a race, an outage survived.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { IndexServerProcess } from '../support/cli';
import { ErrorCodes } from '../../src/protocol/errors';
import { MAC_OFFSET } from '../../src/protocol/proof';
import { decodeIndexReply } from '../../src/protocol/udp';
import { UdpProbe } from '../support/index-server';
import { IndexPeer, codeOf } from '../support/index-peer';
import { RedisServer } from '../support/redis';

/** Asks S at `peer` back to back until it is answered with sources; returns how long that took. */
async function foundWithin(peer: IndexPeer, contentName: string, ms: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    const r = await peer.search(contentName);
    if (r.type === 'S') return Date.now() - start;
    if (Date.now() - start > ms) assert.fail(`"${contentName}" was not found within ${ms} ms: last reply ${JSON.stringify(r)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Asks until `contentName` is gone (NOT_FOUND): whichever sweep ran first, this server's copy or the store's script. */
async function goneWithin(peer: IndexPeer, contentName: string, ms: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    const r = await peer.search(contentName);
    if (codeOf(r) === 'E7') return;
    if (Date.now() - start > ms) assert.fail(`"${contentName}" was still listed after ${ms} ms: ${JSON.stringify(r)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('index servers sharing one Redis', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  const servers: IndexServerProcess[] = [];
  const peers: IndexPeer[] = [];

  // No rate limit: foundWithin and goneWithin ask back to back, and a fast machine passes 2000 asks a
  // second from one address, after which the server drops them (a limit the rate-limit tests check).
  async function indexServer(...flags: string[]): Promise<IndexServerProcess> {
    const s = await IndexServerProcess.start(['--store', redis.url, '--rate-limit', '0', ...flags]);
    servers.push(s);
    return s;
  }
  /** A server on another database of the same Redis: another index. */
  async function indexServerOnDb(db: number, ...flags: string[]): Promise<IndexServerProcess> {
    const s = await IndexServerProcess.start(['--store', `${redis.url}/${db}`, '--rate-limit', '0', ...flags]);
    servers.push(s);
    return s;
  }
  async function peerAt(server: IndexServerProcess, secret?: Buffer): Promise<IndexPeer> {
    const p = await IndexPeer.open(server, secret);
    peers.push(p);
    return p;
  }

  beforeEach(async function () {
    redis = await RedisServer.start();
  });
  afterEach(async function () {
    await Promise.all(peers.splice(0).map((p) => p.close()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await redis.stop();
  });

  it('an R at one server is found by S and O at another within 1 s, and a cookie from one is good at the other', async function () {
    const [a, b] = [await indexServer(), await indexServer()];
    const sam = await peerAt(a);
    assert.equal(codeOf(await sam.register('sam', 'song.mp3')), 'A');
    const finder = await peerAt(b);
    const ms = await foundWithin(finder, 'song.mp3', 1000);
    const reply = await finder.search('song.mp3');
    assert.ok(reply.type === 'S');
    assert.deepEqual(reply.sources.map((s) => s.peerName), ['sam']);
    const online = await finder.online();
    assert.ok(online.type === 'O');
    assert.deepEqual(online.entries.map((e) => `${e.peerName}/${e.contentName}`), ['sam/song.mp3'], 'O at the other server lists it');
    // The same cookie, handed out by A, carries an R at B: both sign with the key kept in the store.
    const moved = await UdpProbe.open({ host: '127.0.0.1', port: a.port });
    try {
      const fromA = await moved.handshake();
      moved.target = { host: '127.0.0.1', port: b.port };
      const r = await moved.ask({ type: 'R', requestId: moved.id(), cookie: fromA, secret: randomBytes(32), tcpPort: 1, size: 0, sha256: Buffer.alloc(32), peerName: 'mover', contentName: 'x' });
      assert.equal(codeOf(r), 'A', `a cookie from A is refused at B: ${JSON.stringify(r)}`);
    } finally {
      await moved.close();
    }
    this.test!.title += ` (found after ${ms} ms)`;
  });

  it('a name has one owner across servers, kept after its last registration and across a restart of each server', async function () {
    const [a, b] = [await indexServer(), await indexServer()];
    const owner = randomBytes(32);
    const dana = await peerAt(a, owner);
    const squatterAtB = await peerAt(b);
    assert.equal(codeOf(await dana.register('dana', 'notes.txt')), 'A');
    assert.equal(codeOf(await squatterAtB.register('dana', 'fake.txt')), 'E5', 'NAME_TAKEN at the other server');
    assert.equal(codeOf(await dana.deregister('dana')), 'A');
    assert.equal(codeOf(await squatterAtB.register('dana', 'fake.txt')), 'E5', 'still NAME_TAKEN with no registration left');
    for (const i of [0, 1]) {
      await servers[i].stop();
      servers[i] = await IndexServerProcess.start(['--store', redis.url, '--rate-limit', '0']);
      const squatter = await peerAt(servers[i]);
      assert.equal(codeOf(await squatter.register('dana', 'fake.txt')), 'E5', `a squatter after server ${i} restarted`);
      const back = await peerAt(servers[i], owner);
      assert.equal(codeOf(await back.register('dana', 'notes.txt')), 'A', `the owner after server ${i} restarted`);
    }
  });

  it('a lease that ends is gone at every server', async function () {
    const [a, b] = [await indexServer('--ttl', '1', '-v'), await indexServer('--ttl', '1', '-v')];
    const sam = await peerAt(a);
    assert.equal(codeOf(await sam.register('sam', 'brief.txt')), 'A');
    const finder = await peerAt(b);
    await foundWithin(finder, 'brief.txt', 1000);
    // The lease is 1 s; either this server's own sweep or the store's script (streamed here) removes it.
    await goneWithin(finder, 'brief.txt', 10_000);
    await goneWithin(await peerAt(a), 'brief.txt', 10_000);
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      // The store's own sweep removes it too (one script, whichever server runs it first).
      for (let left = 1; left > 0; ) left = Number(await client.sendCommand(['HLEN', 'p2p:entries']));
    } finally {
      client.destroy();
    }
  });

  it('a damaged copy of an R sent first is refused BAD_PROOF and does not use up the genuine R\'s id', async function () {
    const [a] = [await indexServer()];
    const sam = await peerAt(a);
    assert.equal(codeOf(await sam.register('sam', 'first.txt')), 'A', 'sam owns the name');
    const requestId = sam.probe.id();
    const genuine = sam.probe.encode({
      type: 'R', requestId, cookie: sam.cookie, secret: sam.secret, tcpPort: 4000, size: 5, sha256: Buffer.alloc(32, 7), peerName: 'sam', contentName: 'second.txt',
    });
    const damaged = Buffer.from(genuine);
    damaged[MAC_OFFSET] ^= 1;
    const refused = decodeIndexReply(await sam.probe.roundTrip(damaged));
    assert.equal(codeOf(refused), `E${ErrorCodes.BAD_PROOF}`, JSON.stringify(refused));
    const reply = decodeIndexReply(await sam.probe.roundTrip(genuine));
    assert.equal(codeOf(reply), 'A', `the genuine R after its damaged copy: ${JSON.stringify(reply)}`);
    assert.equal(codeOf(await sam.search('second.txt')), 'S');
  });

  it('caps hold across two servers under concurrent R: per address and per peer name', async function () {
    const [a, b] = [await indexServer('--max-per-address', '10'), await indexServer('--max-per-address', '10')];
    const atA = await peerAt(a);
    const atB = await peerAt(b);
    const contents = Array.from({ length: 15 }, (_, i) => `file-${i}`);
    const replies = (await Promise.all([atA.registerAll((i) => `a${i}`, contents), atB.registerAll((i) => `b${i}`, contents)])).flat();
    assert.equal(replies.filter((r) => r.type === 'A').length, 10, 'exactly the cap from one address');
    assert.equal(replies.filter((r) => codeOf(r) === 'E20').length, 20, 'the rest ADDRESS_LIMIT');

    const [c, d] = [await indexServerOnDb(1, '--max-per-peer', '3'), await indexServerOnDb(1, '--max-per-peer', '3')];
    const secret = randomBytes(32);
    const one = await peerAt(c, secret);
    const other = await peerAt(d, secret);
    const both = (await Promise.all([one.registerAll(() => 'kim', contents.slice(0, 6)), other.registerAll(() => 'kim', contents.slice(6, 12))])).flat();
    assert.equal(both.filter((r) => r.type === 'A').length, 3, 'exactly the cap under one name');
    assert.equal(both.filter((r) => codeOf(r) === 'E11').length, 9, 'the rest PEER_LIMIT');
  });

  it('Redis killed mid-run: S goes on from the copy, R gets STORE_UNAVAILABLE, then all recovers and re-registration is found everywhere', async function () {
    const [a, b] = [await indexServer(), await indexServer()];
    const sam = await peerAt(a);
    assert.equal(codeOf(await sam.register('sam', 'song.mp3')), 'A');
    const finder = await peerAt(b);
    await foundWithin(finder, 'song.mp3', 1000);
    await redis.kill();
    await Promise.all([a, b].map((s) => s.nextStderrLine((l) => /store redis:\/\/\S+ unreachable/.test(l))));
    assert.equal((await finder.search('song.mp3')).type, 'S', 'reads go on');
    const refused = await sam.register('sam', 'other.mp3');
    assert.equal(codeOf(refused), 'E24', `writes refused: ${JSON.stringify(refused)}`);
    assert.ok(refused.type === 'E' && /cannot be reached/.test(refused.message));
    await redis.run();
    await Promise.all([a, b].map((s) => s.nextStderrLine((l) => /reachable again/.test(l))));
    // The restarted Redis is empty: the peer's next lease refresh puts its registrations back.
    assert.equal(codeOf(await sam.register('sam', 'song.mp3')), 'A');
    assert.equal(codeOf(await sam.register('sam', 'other.mp3')), 'A');
    await foundWithin(finder, 'other.mp3', 1000);
    await foundWithin(finder, 'song.mp3', 1000);
    // Both servers said so once, not once per request.
    assert.equal(a.stderrLines.filter((l) => /unreachable/.test(l)).length, 1);
  });
});
