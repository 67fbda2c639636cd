// A fair index over real UDP, as an attacker would try it: one address or one secret filling the index, and a captured R or T replayed once its reply is forgotten.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { ErrorCodes, IndexReply, decodeIndexReply } from '../../src/protocol';
import { ReplayGuard, REPLAY_MEMORY_MS, ID_WINDOW } from '../../src/server/replay-guard';
import { Registry, ownerOfIp, ownerOfSecret } from '../../src/server/registry';
import { MemoryStore } from '../../src/server/store';
import { ManualClock, RunningIndexServer, UdpProbe, canBind, startIndexServer } from '../support/index-server';

function expectCode(reply: IndexReply, code: keyof typeof ErrorCodes): asserts reply is Extract<IndexReply, { type: 'E' }> {
  assert.equal(reply.type, 'E', `expected E ${code}, got ${JSON.stringify(reply)}`);
  assert.equal(reply.code, ErrorCodes[code], `expected E ${code}, got code ${reply.code}: ${reply.message}`);
}

/** One socket with its cookie, speaking raw R/T/S as any peer (or attacker) can. */
class Sender {
  private constructor(
    readonly probe: UdpProbe,
    readonly cookie: Buffer,
  ) {}

  static async open(target: RunningIndexServer, bindHost?: string): Promise<Sender> {
    const probe = await UdpProbe.open(target, bindHost);
    return new Sender(probe, await probe.handshake());
  }

  registerBytes(peerName: string, contentName: string, secret: Buffer, requestId = this.probe.id()): Buffer {
    return this.probe.encode({
      type: 'R', requestId, cookie: this.cookie, secret, tcpPort: 4000, size: 1, sha256: randomBytes(32), peerName, contentName,
    });
  }

  deregisterBytes(peerName: string, contentName: string, secret: Buffer, requestId = this.probe.id()): Buffer {
    return this.probe.encode({ type: 'T', requestId, cookie: this.cookie, secret, peerName, contentName });
  }

  async send(bytes: Buffer): Promise<IndexReply> {
    return decodeIndexReply(await this.probe.roundTrip(bytes));
  }

  register(peerName: string, contentName: string, secret: Buffer): Promise<IndexReply> {
    return this.send(this.registerBytes(peerName, contentName, secret));
  }

  deregister(peerName: string, contentName: string, secret: Buffer): Promise<IndexReply> {
    return this.send(this.deregisterBytes(peerName, contentName, secret));
  }

  search(contentName: string): Promise<IndexReply> {
    return this.probe.ask({ type: 'S', requestId: this.probe.id(), cookie: this.cookie, contentName });
  }
}

describe('a fair index', function () {
  let running: RunningIndexServer[] = [];
  let senders: Sender[] = [];

  async function server(opts: Parameters<typeof startIndexServer>[0] = {}): Promise<RunningIndexServer> {
    const s = await startIndexServer({ rateLimit: false, ...opts });
    running.push(s);
    return s;
  }

  async function sender(target: RunningIndexServer, bindHost?: string): Promise<Sender> {
    const s = await Sender.open(target, bindHost);
    senders.push(s);
    return s;
  }

  afterEach(async function () {
    await Promise.all(senders.map((s) => s.probe.close()));
    await Promise.all(running.map((s) => s.close()));
    senders = [];
    running = [];
  });

  describe('caps per address and per secret', function () {
    it('stops the issue\'s flood with the default caps: one secret at 1 000, one address at 2 000, while another host still registers', async function () {
      if (!(await canBind('127.0.0.2'))) this.skip();
      this.timeout(30_000);
      const srv = await server();
      const flood = await sender(srv);
      const secret = randomBytes(32);
      // Five peer names, one secret: names cost nothing, so the secret's share is what stops it.
      let accepted = 0;
      let refusal: IndexReply | undefined;
      for (let i = 0; !refusal; i++) {
        const reply = await flood.register(`flood${i % 5}`, `f${i}.bin`, secret);
        if (reply.type === 'A') accepted++;
        else refusal = reply;
      }
      expectCode(refusal, 'SECRET_LIMIT');
      assert.match(refusal.message, /limit is 1000/);
      assert.equal(accepted, 1000);
      // A fresh secret per name does not help: the address's share ends it.
      refusal = undefined;
      for (let i = 0; !refusal; i++) {
        const reply = await flood.register(`more${i}`, `m${i}.bin`, randomBytes(32));
        if (reply.type === 'A') accepted++;
        else refusal = reply;
      }
      expectCode(refusal, 'ADDRESS_LIMIT');
      assert.match(refusal.message, /127\.0\.0\.1 holds 2000 registrations; the limit is 2000/);
      assert.equal(srv.server.registry.size, 2000);

      const honest = await sender(srv, '127.0.0.2');
      assert.equal((await honest.register('sam', 'Text.txt', randomBytes(32))).type, 'A', 'another host is not shut out');
      assert.equal(srv.server.registry.size, 2001);
    });

    it('lets an address at its cap refresh what it holds, and register again once it removed one', async function () {
      const srv = await server({ maxPerAddress: 3 });
      const s = await sender(srv);
      const secrets = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)];
      for (let i = 0; i < 3; i++) assert.equal((await s.register(`p${i}`, 'a.txt', secrets[i])).type, 'A');
      expectCode(await s.register('p3', 'a.txt', secrets[3]), 'ADDRESS_LIMIT');
      const refresh = await s.register('p0', 'a.txt', secrets[0]);
      assert.ok(refresh.type === 'A' && refresh.message === 'refreshed', 'a refresh never counts against a cap');
      assert.equal((await s.deregister('p1', 'a.txt', secrets[1])).type, 'A');
      assert.equal((await s.register('p3', 'a.txt', secrets[3])).type, 'A');
    });

    it('counts a secret across all its peer names, and only that secret', async function () {
      const srv = await server({ maxPerSecret: 2 });
      const s = await sender(srv);
      const secret = randomBytes(32);
      assert.equal((await s.register('sam', 'a.txt', secret)).type, 'A');
      assert.equal((await s.register('sam2', 'b.txt', secret)).type, 'A');
      expectCode(await s.register('sam3', 'c.txt', secret), 'SECRET_LIMIT');
      assert.equal((await s.register('kim', 'c.txt', randomBytes(32))).type, 'A', 'another secret from the same address');
      assert.equal((await s.register('sam', 'a.txt', secret)).type, 'A', 'a refresh at the cap');
    });

    it('counts IPv6 sources per /64 and moves a refreshed entry\'s share with its address', function () {
      const reg = new Registry(new MemoryStore(), { maxPerAddress: 2 });
      const add = (peerName: string, host: string) =>
        reg.register({ peerName, contentName: 'a.txt', owner: ownerOfSecret(randomBytes(32)), host, port: 4000, size: 1 });
      add('a', '2001:db8:1:2::1');
      add('b', '2001:db8:1:2:ffff::9');
      assert.throws(() => add('c', '2001:db8:1:2::77'), (e: Error & { code?: string }) => e.code === 'ADDRESS_LIMIT' && /2001:db8:1:2::\/64/.test(e.message));
      add('c', '2001:db8:1:3::1');
      // A classic owner counts against its address too.
      assert.throws(() => reg.register({ peerName: 'old', contentName: 'x', owner: ownerOfIp('2001:db8:1:2::3'), host: '2001:db8:1:2::3', port: 1, size: 0 }), (e: Error & { code?: string }) => e.code === 'ADDRESS_LIMIT');
      const owner = ownerOfSecret(randomBytes(32));
      reg.register({ peerName: 'mover', contentName: 'm', owner, host: '10.0.0.1', port: 1, size: 0 });
      reg.register({ peerName: 'mover', contentName: 'm', owner, host: '2001:db8:1:2::5', port: 1, size: 0 }); // refresh from its new address
      assert.equal(reg.store.countFrom('2001:db8:1:2'), 3, 'a refresh is never refused, even over the cap');
      assert.equal(reg.store.countFrom('10.0.0.1'), 0, 'the old address got its share back');
    });
  });

  describe('no replay', function () {
    let clock: ManualClock;
    beforeEach(function () {
      clock = new ManualClock();
    });

    it('does not let a captured R re-create a removed entry after the reply cache has forgotten it', async function () {
      const srv = await server({ now: clock.now, ttlSeconds: 600 });
      const victim = await sender(srv);
      const secret = randomBytes(32);
      const capturedR = victim.registerBytes('sam', 'a.txt', secret);
      const capturedT = victim.deregisterBytes('sam', 'a.txt', secret);
      assert.equal((await victim.send(capturedR)).type, 'A');
      assert.equal((await victim.send(capturedT)).type, 'A');
      clock.advance(31_000); // past the 30 s reply cache, well inside the cookie's 2–4 min
      srv.server.sweep();

      // The attacker replays the victim's own datagrams from the victim's address and port.
      expectCode(await victim.send(capturedR), 'REPLAYED');
      expectCode(await victim.search('a.txt'), 'NOT_FOUND');
      assert.equal(srv.server.registry.size, 0);
      clock.advance(200_000); // the last moment the cookie is still accepted
      expectCode(await victim.send(capturedR), 'REPLAYED');
      expectCode(await victim.send(capturedT), 'REPLAYED');
      clock.advance(10_000); // the cookie has expired: the cookie check refuses it before the guard
      expectCode(await victim.send(capturedR), 'BAD_COOKIE');
      assert.equal(srv.server.registry.size, 0);
    });

    it('does not let a captured T remove a registration made again since', async function () {
      const srv = await server({ now: clock.now, ttlSeconds: 600 });
      const peer = await sender(srv);
      const secret = randomBytes(32);
      assert.equal((await peer.register('sam', 'a.txt', secret)).type, 'A');
      const capturedT = peer.deregisterBytes('sam', 'a.txt', secret);
      assert.equal((await peer.send(capturedT)).type, 'A');
      assert.equal((await peer.register('sam', 'a.txt', secret)).type, 'A', 'the peer shares it again, with a new id');
      clock.advance(45_000);
      expectCode(await peer.send(capturedT), 'REPLAYED');
      const found = await peer.search('a.txt');
      assert.equal(found.type, 'S');
    });

    it('still answers a retry within 30 s from memory, and runs new ids sent out of order', async function () {
      const srv = await server({ now: clock.now });
      const peer = await sender(srv);
      const secret = randomBytes(32);
      const later = peer.registerBytes('sam', 'b.txt', secret, 5000);
      const earlier = peer.registerBytes('sam', 'a.txt', secret, 4990);
      const first = await peer.probe.roundTrip(later);
      assert.equal(decodeIndexReply(await peer.probe.roundTrip(earlier)).type, 'A', 'an id behind the highest, never used, runs');
      assert.deepEqual(await peer.probe.roundTrip(later), first, 'a retry gets the remembered reply');
      assert.equal(srv.server.stats.retries, 1);
    });

    it('keeps its memory bounded: a source it has no room for is told BUSY, and is let in once a memory ends', async function () {
      const srv = await server({ now: clock.now, replaySources: 1 });
      const a = await sender(srv);
      const b = await sender(srv);
      assert.equal((await a.register('a', 'a.txt', randomBytes(32))).type, 'A');
      const refused = await b.register('b', 'b.txt', randomBytes(32));
      expectCode(refused, 'BUSY');
      assert.equal(srv.server.registry.size, 1, 'nothing ran unguarded');
      clock.advance(REPLAY_MEMORY_MS);
      srv.server.sweep();
      const bAgain = await Sender.open(srv); // its old cookie has expired with the memory
      senders.push(bAgain);
      assert.equal((await bAgain.register('b', 'b.txt', randomBytes(32))).type, 'A');
    });
  });

  describe('ReplayGuard', function () {
    it('remembers a window of ids per source, across the u32 wrap, and forgets a source when its cookies are dead', function () {
      const clock = new ManualClock();
      const g = new ReplayGuard({ now: clock.now, maxSources: 2 });
      const run = (port: number, id: number) => {
        const v = g.check('10.0.0.1', port, id);
        if (v === 'fresh') g.record('10.0.0.1', port, id);
        return v;
      };
      assert.equal(run(1, 0xffff_fffe), 'fresh');
      assert.equal(run(1, 3), 'fresh', 'past the wrap is newer');
      assert.equal(run(1, 0xffff_ffff), 'fresh', 'a skipped id inside the window');
      assert.equal(run(1, 0xffff_fffe), 'seen');
      assert.equal(run(1, 3), 'seen');
      assert.equal(run(1, (3 + ID_WINDOW) >>> 0), 'fresh');
      assert.equal(run(1, 3), 'stale', 'fell out of the window: refused, not run again');
      assert.equal(run(1, 9), 'fresh', 'an unused id still inside the window');
      assert.equal(run(2, 7), 'fresh', 'the same id from another port is another source');
      assert.equal(run(2, 9), 'fresh');
      assert.equal(run(3, 7), 'full');
      clock.advance(REPLAY_MEMORY_MS);
      assert.equal(g.sweep(), 2);
      assert.equal(g.size, 0);
      assert.equal(run(3, 10), 'fresh');
      assert.equal(g.check('10.0.0.1', 3, 9), 'fresh', 'a new source starts with a clean window, whatever the one before it left');
    });
  });
});
