// IndexClient against a real index server: handshake, R/S/O/T, E codes, timeouts, lost replies, restarts.
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { AddressInfo } from 'node:net';
import { IndexClient } from '../../src/peer/index-client';
import { P2PError } from '../../src/protocol/errors';
import { decodeIndexRequest, encodeIndexReply } from '../../src/protocol/udp';
import { allOnline, startIndexServer, RunningIndexServer } from '../support/index-server';
import { waitUntil } from '../support/peers';
import { isP2P } from '../support/p2p-error';

const sha = (text: string): Buffer => createHash('sha256').update(text).digest();


function bindUdp(host = '127.0.0.1'): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', reject);
    s.bind(0, host, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function closeUdp(s: dgram.Socket | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!s) return resolve();
    try {
      s.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

/**
 * Sits between a client and the real index server and forwards both ways, so a test can lose, hold
 * or precede replies the way a real network might.
 */
class UdpRelay {
  /** Every datagram the client sent, in order. */
  readonly fromClient: Buffer[] = [];
  /** Server replies still to drop before forwarding resumes. */
  dropReplies = 0;
  /** When set, replies it returns true for are kept until release(). */
  hold?: (reply: Buffer) => boolean;
  /** When set, called with each reply instead of forwarding it; call forward() to pass it on. */
  intercept?: (reply: Buffer, forward: () => void, client: dgram.RemoteInfo) => void;
  private readonly held: Buffer[] = [];
  private client?: dgram.RemoteInfo;

  private constructor(
    readonly front: dgram.Socket,
    readonly back: dgram.Socket,
    server: { host: string; port: number },
  ) {
    front.on('message', (buf, rinfo) => {
      this.client = rinfo;
      this.fromClient.push(buf);
      back.send(buf, server.port, server.host);
    });
    back.on('message', (buf) => this.onReply(buf));
  }

  static async start(server: { host: string; port: number }): Promise<UdpRelay> {
    return new UdpRelay(await bindUdp(), await bindUdp(), server);
  }

  get address(): { host: string; port: number } {
    return { host: '127.0.0.1', port: (this.front.address() as AddressInfo).port };
  }

  /** Request ids of the client's datagrams of one type letter. */
  idsOf(type: string): number[] {
    return this.fromClient.filter((b) => String.fromCharCode(b[0]) === type).map((b) => b.readUInt32BE(2));
  }

  release(): void {
    for (const r of this.held.splice(0)) this.forward(r);
  }

  private onReply(buf: Buffer): void {
    if (this.dropReplies > 0) {
      this.dropReplies--;
      return;
    }
    if (this.hold?.(buf)) {
      this.held.push(buf);
      return;
    }
    if (this.intercept) this.intercept(buf, () => this.forward(buf), this.client!);
    else this.forward(buf);
  }

  private forward(buf: Buffer): void {
    if (this.client) this.front.send(buf, this.client.port, this.client.address);
  }

  async close(): Promise<void> {
    await Promise.all([closeUdp(this.front), closeUdp(this.back)]);
  }
}

describe('IndexClient', () => {
  let index: RunningIndexServer | undefined;
  const clients: IndexClient[] = [];
  const sockets: dgram.Socket[] = [];
  const relays: UdpRelay[] = [];

  function client(opts: Partial<ConstructorParameters<typeof IndexClient>[0]> = {}): IndexClient {
    const c = new IndexClient({ address: { host: index!.host, port: index!.port }, ...opts });
    clients.push(c);
    return c;
  }

  beforeEach(async () => {
    index = await startIndexServer({ ttlSeconds: 60 });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(relays.splice(0).map((r) => r.close()));
    await Promise.all(sockets.splice(0).map(closeUdp));
    await index?.close();
    index = undefined;
  });

  describe('talking to a live index server', () => {
    it('handshakes, registers, finds the content by search and in the online list, then de-registers it', async () => {
      const c = client();
      const secret = randomBytes(32);
      const lease = await c.register('alice', secret, 4000, 'Text.txt', 11, sha('hello world'));
      assert.equal(lease, 60);

      const sources = await c.search('Text.txt');
      assert.equal(sources.length, 1);
      assert.equal(sources[0].peerName, 'alice');
      assert.equal(sources[0].host, '127.0.0.1');
      assert.equal(sources[0].port, 4000);
      assert.equal(sources[0].size, 11);
      assert.ok(sources[0].sha256.equals(sha('hello world')));

      const online = await allOnline(c);
      assert.deepEqual(
        online.map((e) => [e.peerName, e.contentName, e.port, e.size]),
        [['alice', 'Text.txt', 4000, 11]],
      );

      await c.deregister('alice', secret, 'Text.txt');
      await assert.rejects(c.search('Text.txt'), isP2P('NOT_FOUND'));
      assert.deepEqual(await allOnline(c), []);
    });

    it('handshakes once and reuses the cookie for later requests', async () => {
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      const c = client({ address: relay.address });
      await c.onlinePage(0);
      await c.onlinePage(0);
      await assert.rejects(c.search('nothing'), isP2P('NOT_FOUND'));
      assert.equal(relay.idsOf('H').length, 1);
      assert.equal(relay.idsOf('O').length, 2);
    });

    it('counts request ids up from a random start', async () => {
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      const c = client({ address: relay.address });
      await c.onlinePage(0);
      await c.onlinePage(0);
      const ids = relay.fromClient.map((b) => b.readUInt32BE(2));
      assert.equal(ids.length, 3);
      assert.deepEqual(ids, [ids[0], (ids[0] + 1) >>> 0, (ids[0] + 2) >>> 0]);
    });

    it('de-registers every content of a peer with an empty content name', async () => {
      const c = client();
      const secret = randomBytes(32);
      await c.register('alice', secret, 4000, 'a.txt', 1, sha('a'));
      await c.register('alice', secret, 4000, 'b.txt', 1, sha('b'));
      await c.register('bob', randomBytes(32), 4001, 'a.txt', 1, sha('a'));
      await c.deregister('alice', secret, '');
      assert.deepEqual(
        (await allOnline(c)).map((e) => `${e.peerName}/${e.contentName}`),
        ['bob/a.txt'],
      );
    });

    it('walks every page of a long online list', async () => {
      const c = client();
      const secret = randomBytes(32);
      const names = Array.from({ length: 80 }, (_, i) => `a fairly long content name number ${String(i).padStart(3, '0')}.txt`);
      await Promise.all(names.map((n) => c.register('pager', secret, 4000, n, 1, sha(n))));
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      const viaRelay = client({ address: relay.address });
      const all = await allOnline(viaRelay);
      assert.deepEqual(all.map((e) => e.contentName).sort(), [...names].sort());
      assert.ok(relay.idsOf('O').length >= 4, `expected several pages, got ${relay.idsOf('O').length}`);
    });
  });

  describe('error replies', () => {
    it('turns E NOT_FOUND into a P2PError with that code', async () => {
      await assert.rejects(client().search('Nobody.txt'), isP2P('NOT_FOUND'));
    });

    it('turns E NAME_TAKEN into a P2PError when another secret owns the peer name', async () => {
      const c = client();
      await c.register('sam', randomBytes(32), 4000, 'x.txt', 1, sha('x'));
      await assert.rejects(c.register('sam', randomBytes(32), 4001, 'y.txt', 1, sha('y')), isP2P('NAME_TAKEN'));
    });

    it('turns E NOT_REGISTERED into a P2PError', async () => {
      await assert.rejects(client().deregister('ghost', randomBytes(32), 'x.txt'), isP2P('NOT_REGISTERED'));
    });

    it('turns E BAD_NAME into a P2PError saying which rule', async () => {
      await assert.rejects(client().register('sam', randomBytes(32), 4000, 'a/b', 1, sha('x')), isP2P('BAD_NAME', /separator/));
    });

    it('turns E PEER_LIMIT into a P2PError', async () => {
      await index!.close();
      index = await startIndexServer({ maxPerPeer: 1 });
      const c = client();
      const secret = randomBytes(32);
      await c.register('sam', secret, 4000, 'one', 1, sha('1'));
      await assert.rejects(c.register('sam', secret, 4000, 'two', 1, sha('2')), isP2P('PEER_LIMIT'));
    });
  });

  describe('when the index does not answer', () => {
    it('fails with TIMEOUT naming the address after the configured tries, re-sending the same request id', async () => {
      const silent = await bindUdp();
      sockets.push(silent);
      const seen: Buffer[] = [];
      silent.on('message', (b) => seen.push(b));
      const port = (silent.address() as AddressInfo).port;
      const c = client({ address: { host: '127.0.0.1', port }, requestTimeoutMs: 40, requestTries: 3 });
      await assert.rejects(c.search('x'), isP2P('TIMEOUT', new RegExp(`no answer from index server 127\\.0\\.0\\.1:${port} after 3 tries`)));
      assert.equal(seen.length, 3);
      assert.ok(seen.every((b) => b[0] === 'H'.charCodeAt(0)));
      assert.equal(new Set(seen.map((b) => b.readUInt32BE(2))).size, 1, 'a retry must carry the same request id');
    });

    it('doubles the wait on each try', async () => {
      const silent = await bindUdp();
      sockets.push(silent);
      const at: number[] = [];
      silent.on('message', () => at.push(performance.now()));
      const c = client({ address: { host: '127.0.0.1', port: (silent.address() as AddressInfo).port }, requestTimeoutMs: 100, requestTries: 3 });
      const started = performance.now();
      await assert.rejects(c.onlinePage(0), isP2P('TIMEOUT'));
      const total = performance.now() - started;
      assert.equal(at.length, 3);
      // 100 + 200 + 400 ms of waiting; timers never fire early.
      assert.ok(at[2] - at[1] >= 190, `second gap ${at[2] - at[1]} ms`);
      assert.ok(total >= 690, `total ${total} ms`);
    });

    it('stops doubling at 16 times the first wait, so many tries do not mean minutes of silence', async () => {
      const silent = await bindUdp();
      sockets.push(silent);
      const at: number[] = [];
      silent.on('message', () => at.push(performance.now()));
      const c = client({ address: { host: '127.0.0.1', port: (silent.address() as AddressInfo).port }, requestTimeoutMs: 50, requestTries: 8 });
      const started = performance.now();
      await assert.rejects(c.onlinePage(0), isP2P('TIMEOUT', /after 8 tries/));
      const total = performance.now() - started;
      assert.equal(at.length, 8);
      // 50, 100, 200, 400, then 800 ms four times: 3950 ms. Doubling on would wait 12 750 ms.
      assert.ok(total >= 3900, `total ${total} ms`);
      assert.ok(total < 8000, `total ${total} ms: the backoff is not capped`);
      assert.ok(at[7] - at[6] < 1500, `last gap ${at[7] - at[6]} ms`);
    });

    it('logs each retry', async () => {
      const silent = await bindUdp();
      sockets.push(silent);
      const lines: string[] = [];
      const c = client({
        address: { host: '127.0.0.1', port: (silent.address() as AddressInfo).port },
        requestTimeoutMs: 20,
        requestTries: 3,
        log: (level, m) => lines.push(`${level} ${m}`),
      });
      await assert.rejects(c.onlinePage(0), isP2P('TIMEOUT'));
      const retries = lines.filter((l) => /did not answer H/.test(l));
      assert.equal(retries.length, 2);
      assert.match(retries[0], /^debug .*try 2 of 3/);
      assert.match(retries[1], /^warn .*try 3 of 3/);
    });

    it('stops retrying with CANCELLED when the caller aborts', async () => {
      const silent = await bindUdp();
      sockets.push(silent);
      const seen: Buffer[] = [];
      silent.on('message', (b) => seen.push(b));
      const c = client({ address: { host: '127.0.0.1', port: (silent.address() as AddressInfo).port }, requestTimeoutMs: 5000 });
      const abort = new AbortController();
      const pending = c.onlinePage(0, { signal: abort.signal });
      await waitUntil(() => seen.length === 1, 'the first H');
      abort.abort();
      await assert.rejects(pending, isP2P('CANCELLED'));
    });

    it('fails every pending request with CLOSED when closed, and later ones too', async () => {
      const silent = await bindUdp();
      sockets.push(silent);
      const seen: Buffer[] = [];
      silent.on('message', (b) => seen.push(b));
      const c = client({ address: { host: '127.0.0.1', port: (silent.address() as AddressInfo).port }, requestTimeoutMs: 5000 });
      const pending = c.search('x');
      await waitUntil(() => seen.length === 1, 'the first H');
      await c.close();
      await assert.rejects(pending, isP2P('CLOSED'));
      await assert.rejects(c.onlinePage(0), isP2P('CLOSED'));
    });

    it('fails with UNREACHABLE when the host name does not resolve', async () => {
      const c = client({ address: { host: 'no-such-host.invalid', port: 7870 }, requestTimeoutMs: 50, requestTries: 1 });
      await assert.rejects(c.onlinePage(0), isP2P('UNREACHABLE', /no-such-host\.invalid/));
    });
  });

  describe('on a lossy path', () => {
    it('gets its answer when the first replies are lost, and the server carries out the R only once', async () => {
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      let registered = 0;
      index!.server.on('request', (type: string, _source: string, outcome: string) => {
        if (type === 'R' && outcome === 'A') registered++;
      });
      const c = client({ address: relay.address, requestTimeoutMs: 50, requestTries: 5 });
      await c.onlinePage(0); // handshake through the relay first
      relay.dropReplies = 2;
      const lease = await c.register('lossy', randomBytes(32), 4000, 'x.txt', 1, sha('x'));
      assert.equal(lease, 60);
      const ids = relay.idsOf('R');
      assert.equal(ids.length, 3, 'two lost replies cost two retries');
      assert.equal(new Set(ids).size, 1);
      assert.equal(registered, 1, 'the retries were answered from the reply cache');
      assert.ok(index!.server.stats.retries >= 2);
    });

    it('survives a lost handshake reply', async () => {
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      relay.dropReplies = 1;
      const c = client({ address: relay.address, requestTimeoutMs: 50 });
      assert.deepEqual(await c.onlinePage(0), { entries: [], next: 0 });
      assert.equal(relay.idsOf('H').length, 2);
    });

    it('ignores datagrams from other addresses and malformed ones, and keeps waiting for the real reply', async () => {
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      const stranger = await bindUdp();
      sockets.push(stranger);
      let h = 0;
      // Before the genuine H reply: a forged H reply with the same id from another port, and garbage from the index's own address.
      relay.intercept = (reply, forward, to) => {
        if (String.fromCharCode(reply[0]) !== 'H' || h++ > 0) return forward();
        const requestId = reply.readUInt32BE(2);
        const forged = encodeIndexReply({ type: 'H', requestId, cookie: Buffer.alloc(16, 0xee), exchangeKey: Buffer.alloc(32, 0xee) });
        stranger.send(forged, to.port, to.address, () => {
          relay.front.send(Buffer.from('garbage!'), to.port, to.address, () => forward());
        });
      };
      const c = client({ address: relay.address, requestTimeoutMs: 1000 });
      await assert.rejects(c.search('x'), isP2P('NOT_FOUND'));
      const s = relay.fromClient.find((b) => b[0] === 'S'.charCodeAt(0))!;
      const req = decodeIndexRequest(s);
      assert.ok(req.type === 'S' && !req.cookie.equals(Buffer.alloc(16, 0xee)), 'the forged cookie was used');
      assert.equal(relay.idsOf('H').length, 1, 'no second handshake was needed');
    });
  });

  describe('cookies', () => {
    it('handshakes again and retries when the index restarts on the same port (BAD_COOKIE)', async () => {
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      const c = client({ address: relay.address });
      const secret = randomBytes(32);
      await c.register('phoenix', secret, 4000, 'x.txt', 1, sha('x'));
      const port = index!.port;
      await index!.close();
      index = await startIndexServer({ port, ttlSeconds: 60 });
      const outcomes: string[] = [];
      index.server.on('request', (type: string, _s: string, outcome: string) => outcomes.push(`${type} ${outcome}`));

      assert.equal(await c.register('phoenix', secret, 4000, 'x.txt', 1, sha('x')), 60);
      assert.deepEqual(outcomes, ['R E BAD_COOKIE', 'H H', 'R A']);
      const rIds = relay.idsOf('R');
      assert.notEqual(rIds[rIds.length - 1], rIds[rIds.length - 2], 'the retry after a new handshake uses a new request id');
      assert.equal((await c.search('x.txt')).length, 1);
    });

    it('renews a cookie older than cookieMaxAgeMs before using it', async () => {
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      const c = client({ address: relay.address, cookieMaxAgeMs: 1 });
      await c.onlinePage(0);
      const before = Date.now();
      await waitUntil(() => Date.now() > before + 1, 'the cookie to be older than 1 ms');
      await c.onlinePage(0);
      assert.equal(relay.idsOf('H').length, 2);
    });

    it('shares one handshake among concurrent first requests', async () => {
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      const c = client({ address: relay.address });
      await Promise.all([c.onlinePage(0), c.onlinePage(0), c.onlinePage(0), assert.rejects(c.search('x'), isP2P('NOT_FOUND'))]);
      assert.equal(relay.idsOf('H').length, 1);
    });
  });

  describe('limits', () => {
    it('keeps at most maxInFlight requests waiting for a reply', async () => {
      const relay = await UdpRelay.start(index!);
      relays.push(relay);
      const c = client({ address: relay.address, maxInFlight: 3, requestTimeoutMs: 5000 });
      await c.onlinePage(0);
      relay.hold = (reply) => reply[0] === 'S'.charCodeAt(0) || reply[0] === 'E'.charCodeAt(0);
      const searches = Array.from({ length: 8 }, (_, i) => c.search(`none-${i}`).catch((e: P2PError) => e.code));
      await waitUntil(() => relay.idsOf('S').length === 3, 'three searches to reach the index');
      // Another request round trip proves the other five had every chance to go out, and did not.
      const probe = new IndexClient({ address: { host: index!.host, port: index!.port } });
      await probe.onlinePage(0);
      await probe.close();
      assert.equal(new Set(relay.idsOf('S')).size, 3);
      relay.hold = undefined;
      relay.release();
      assert.deepEqual(await Promise.all(searches), Array(8).fill('NOT_FOUND'));
      assert.equal(new Set(relay.idsOf('S')).size, 8);
    });

    it('rejects bad settings with BAD_SETTING', () => {
      assert.throws(() => new IndexClient({ address: { host: '127.0.0.1', port: 1 }, requestTries: 0 }), isP2P('BAD_SETTING'));
      assert.throws(() => new IndexClient({ address: { host: '127.0.0.1', port: 1 }, requestTimeoutMs: -1 }), isP2P('BAD_SETTING'));
    });
  });

  describe('sending from a chosen local address', () => {
    it('registers the source IP it sends from', async () => {
      await index!.close();
      index = await startIndexServer({ host: '127.0.0.1' });
      const c = client({ localAddress: '127.0.0.2' });
      await c.register('second-host', randomBytes(32), 4000, 'x.txt', 1, sha('x'));
      const [src] = await c.search('x.txt');
      assert.equal(src.host, '127.0.0.2');
    });
  });
});
