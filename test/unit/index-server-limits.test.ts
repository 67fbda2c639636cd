// The index server's defences over real UDP: no amplification, per-source rate limit, per-peer and total caps.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import {
  CLASSIC_SIZE, ErrorCodes, HELLO_BYTES, classifyDatagram, IndexReply, MAX_DATAGRAM, decodeClassicReply, decodeIndexReply, encodeClassicRequest, encodeIndexRequest,
} from '../../src/protocol';
import { ManualClock, RunningIndexServer, UdpProbe, canBind, encodeRequest, startIndexServer } from '../support/index-server';

function expectCode(reply: IndexReply, code: keyof typeof ErrorCodes): void {
  assert.equal(reply.type, 'E', `expected E ${code}, got ${JSON.stringify(reply)}`);
  if (reply.type === 'E') assert.equal(reply.code, ErrorCodes[code], `expected ${code}, got ${reply.code}: ${reply.message}`);
}

/** Polls `condition` until it holds; fails after `ms`. For counters that have no event. */
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Every kind of datagram a client could send without a valid cookie: valid, broken, classic, garbage. */
function cookielessMix(): Buffer[] {
  const cookie = randomBytes(16);
  const secret = randomBytes(32);
  const sha = randomBytes(32);
  const requests = [
    encodeIndexRequest({ type: 'H', requestId: 1 }),
    encodeRequest({ type: 'R', requestId: 2, cookie, secret, tcpPort: 4000, size: 5, sha256: sha, peerName: 'p', contentName: 'c' }),
    encodeRequest({ type: 'R', requestId: 3, cookie: Buffer.alloc(16), secret, tcpPort: 4000, size: 5, sha256: sha, peerName: 'x'.repeat(255), contentName: 'y'.repeat(255) }),
    encodeRequest({ type: 'T', requestId: 4, cookie, secret, peerName: 'p', contentName: '' }),
    encodeIndexRequest({ type: 'S', requestId: 5, cookie, contentName: 'a' }),
    encodeIndexRequest({ type: 'O', requestId: 6, cookie, cursor: 0 }),
    encodeIndexRequest({ type: 'F', requestId: 7, cookie, cursor: 0, query: 'a' }),
  ];
  const mix: Buffer[] = [];
  for (const req of requests) {
    mix.push(req);
    for (let len = 0; len < req.length; len += Math.max(1, Math.floor(req.length / 12))) mix.push(req.subarray(0, len));
    mix.push(Buffer.concat([req, Buffer.from('trailing')]));
    const unknown = Buffer.from(req);
    unknown[0] = 0x5a; // 'Z'
    mix.push(unknown);
    const version = Buffer.from(req);
    version[1] = 0x80;
    mix.push(version);
  }
  mix.push(Buffer.concat([Buffer.from([0x53, 0x81]), randomBytes(CLASSIC_SIZE - 2)])); // 101 bytes, new-form
  mix.push(encodeClassicRequest({ type: 'R', peerName: 'classic', contentName: 'c.txt', address: '4000' }));
  mix.push(encodeClassicRequest({ type: 'S', peerName: '', contentName: 'c.txt' }));
  mix.push(encodeClassicRequest({ type: 'T', peerName: 'nobody', contentName: 'c.txt' }));
  mix.push(encodeClassicRequest({ type: 'O', offset: 0 }));
  mix.push(Buffer.concat([Buffer.from('Q'), Buffer.alloc(CLASSIC_SIZE - 1)]));
  for (let i = 0; i < 40; i++) mix.push(randomBytes(Math.floor(Math.random() * 260)));
  mix.push(Buffer.alloc(0));
  mix.push(randomBytes(MAX_DATAGRAM + 1));
  mix.push(randomBytes(4000));
  return mix;
}

describe('index server defences', function () {
  let running: RunningIndexServer[] = [];
  let probes: UdpProbe[] = [];

  async function server(opts: Parameters<typeof startIndexServer>[0]): Promise<RunningIndexServer> {
    const s = await startIndexServer(opts);
    running.push(s);
    return s;
  }

  async function probe(target: RunningIndexServer, bindHost?: string): Promise<UdpProbe> {
    const p = await UdpProbe.open(target, bindHost);
    probes.push(p);
    return p;
  }

  afterEach(async function () {
    await Promise.all(probes.map((p) => p.close()));
    await Promise.all(running.map((s) => s.close()));
    probes = [];
    running = [];
  });

  describe('amplification', function () {
    it('never answers a source without a valid cookie with more bytes than it sent, datagram by datagram', async function () {
      const srv = await server({ rateLimit: false, classic: true });
      const p = await probe(srv);
      const mix = cookielessMix();
      let answered = 0;
      for (const d of mix) {
        await p.send(d);
        // The probe's H reply marks the end of whatever `d` caused; anything before it answers `d`.
        const marker = p.id();
        await p.send(encodeIndexRequest({ type: 'H', requestId: marker }));
        for (;;) {
          const got = await p.next();
          if (got.length === HELLO_BYTES && got[0] === 0x48 && got.readUInt32BE(2) === marker) break;
          answered++;
          assert.ok(got.length <= d.length, `a ${d.length}-byte datagram (${d.subarray(0, 2).toString('hex')}...) got a ${got.length}-byte reply`);
        }
      }
      assert.ok(answered > mix.length / 2, `most datagrams get an answer that fits (${answered} of ${mix.length})`);
      assert.ok(p.bytesReceived <= p.bytesSent, `${p.bytesReceived} bytes back for ${p.bytesSent} sent`);
    });

    it('lets no exchange of replies run on: echoing back everything it sends dies out within two rounds', async function () {
      const srv = await server({ rateLimit: false, classic: true });
      const p = await probe(srv);
      const cookie = await p.handshake();
      // Something to list and find, so S and O replies are full ones.
      assert.equal((await p.ask({ type: 'R', requestId: 12, cookie, secret: randomBytes(32), tcpPort: 9, size: 1, sha256: randomBytes(32), peerName: 'p', contentName: 'a' })).type, 'A');
      assert.equal((await p.roundTrip(encodeClassicRequest({ type: 'R', peerName: 'c', contentName: 'c.txt', address: '9' }))).length, CLASSIC_SIZE);
      const mix = [
        ...cookielessMix(),
        encodeIndexRequest({ type: 'S', requestId: 9, cookie, contentName: 'a' }),
        encodeIndexRequest({ type: 'O', requestId: 10, cookie, cursor: 0 }),
        p.encode({ type: 'T', requestId: 11, cookie, secret: randomBytes(32), peerName: 'x', contentName: 'y' }),
      ];
      /** Sends `batch`, then an H marker; returns what came back before the marker's reply, and that reply. */
      const exchange = async (batch: Buffer[]): Promise<Buffer[]> => {
        for (const d of batch) await p.send(d);
        const marker = p.id();
        await p.send(encodeIndexRequest({ type: 'H', requestId: marker }));
        const back: Buffer[] = [];
        for (;;) {
          const got = await p.next();
          back.push(got);
          if (got.length === HELLO_BYTES && got[0] === 0x48 && got.readUInt32BE(2) === marker) return back;
        }
      };
      let longest = 0;
      for (const d of mix) {
        // Play an echo service (or a second server): send back whatever arrives, H replies included.
        let inFlight = await exchange([d]);
        let rounds = 0;
        while (inFlight.length > 1) {
          rounds++;
          assert.ok(rounds <= 2, `a ${d.length}-byte ${d.subarray(0, 2).toString('hex')} datagram started an exchange of ${rounds} rounds`);
          inFlight = await exchange(inFlight);
        }
        longest = Math.max(longest, rounds);
      }
      assert.ok(longest >= 1, 'some replies were echoed back');
    });

    it('stays within the request size while rate limiting, and mostly silent', async function () {
      const clock = new ManualClock();
      const srv = await server({ now: clock.now, rateLimit: { perSecond: 1, burst: 5 } });
      const p = await probe(srv);
      const mix = cookielessMix();
      for (const d of mix) await p.send(d);
      // Oversize, junk and (classic being off) classic datagrams are dropped before the rate limit.
      const dropped = mix.filter((d) => classifyDatagram(d) !== 'new').length;
      await until(() => srv.server.stats.datagrams === mix.length, `the server saw all ${mix.length} datagrams`);
      await until(() => p.bytesReceived === srv.server.stats.bytesOut, 'every reply arrived');
      const stats = srv.server.stats;
      assert.equal(stats.rateLimited, mix.length - dropped - 5);
      assert.ok(stats.replies <= 6, `${stats.replies} replies: at most the burst and one notice`);
      assert.ok(p.bytesReceived <= p.bytesSent);
    });
  });

  describe('rate limit', function () {
    it('answers RATE_LIMITED once the burst is spent, then stays silent, per source IP', async function () {
      const clock = new ManualClock();
      const srv = await server({ now: clock.now, rateLimit: { perSecond: 1, burst: 3 } });
      const a = await probe(srv);
      for (let i = 0; i < 3; i++) await a.handshake();
      const request = encodeIndexRequest({ type: 'H', requestId: 4242 });
      const raw = await a.roundTrip(request);
      assert.ok(raw.length <= request.length);
      const notice = decodeIndexReply(raw);
      expectCode(notice, 'RATE_LIMITED');
      assert.equal(notice.requestId, 4242);
      await a.send(encodeIndexRequest({ type: 'H', requestId: 1 })); // over the limit again: no second notice this second
      if (await canBind('127.0.0.2')) {
        const b = await probe(srv, '127.0.0.2');
        assert.equal((await b.handshake()).length, 16, 'another source IP has its own bucket');
      }
      clock.advance(1000); // one token back
      await a.expectSilence(); // the H above got nothing; the probe's own H is answered
      assert.equal(srv.server.stats.rateLimited, 2);
    });

    it('answers a rate-limited classic PDU with a 101-byte classic E', async function () {
      const clock = new ManualClock();
      const srv = await server({ now: clock.now, rateLimit: { perSecond: 1, burst: 1 }, classic: true });
      const p = await probe(srv);
      const o = encodeClassicRequest({ type: 'O', offset: 0 });
      assert.equal((await p.roundTrip(o)).length, CLASSIC_SIZE);
      const raw = await p.roundTrip(o);
      assert.equal(raw.length, CLASSIC_SIZE);
      const reply = decodeClassicReply(raw);
      assert.equal(reply.type, 'E');
      if (reply.type === 'E') assert.match(reply.message, /Too many requests/);
    });

    it('can be turned off', async function () {
      const srv = await server({ rateLimit: false });
      const p = await probe(srv);
      const n = 300;
      for (let i = 0; i < n; i++) await p.send(encodeIndexRequest({ type: 'H', requestId: i }));
      for (let i = 0; i < n; i++) assert.equal(decodeIndexReply(await p.next()).type, 'H');
      assert.equal(srv.server.stats.rateLimited, 0);
    });
  });

  describe('caps', function () {
    async function session(srv: RunningIndexServer) {
      const p = await probe(srv);
      const cookie = await p.handshake();
      return {
        register: (peer: string, content: string, secret: Buffer) =>
          p.ask({ type: 'R', requestId: p.id(), cookie, secret, tcpPort: 4000, size: 1, sha256: randomBytes(32), peerName: peer, contentName: content }),
        deregister: (peer: string, content: string, secret: Buffer) =>
          p.ask({ type: 'T', requestId: p.id(), cookie, secret, peerName: peer, contentName: content }),
      };
    }

    it('refuses a peer more registrations than maxPerPeer with PEER_LIMIT, but still lets it refresh', async function () {
      const srv = await server({ maxPerPeer: 3 });
      const s = await session(srv);
      const sam = randomBytes(32);
      for (const c of ['1.txt', '2.txt', '3.txt']) assert.equal((await s.register('sam', c, sam)).type, 'A');
      const refused = await s.register('sam', '4.txt', sam);
      expectCode(refused, 'PEER_LIMIT');
      if (refused.type === 'E') assert.match(refused.message, /limit is 3/);
      assert.equal((await s.register('sam', '1.txt', sam)).type, 'A');
      assert.equal((await s.register('kim', '4.txt', randomBytes(32))).type, 'A');
      assert.equal((await s.deregister('sam', '2.txt', sam)).type, 'A');
      assert.equal((await s.register('sam', '4.txt', sam)).type, 'A');
    });

    it('refuses new registrations past maxEntries with INDEX_FULL until one is removed', async function () {
      const srv = await server({ maxEntries: 4 });
      const s = await session(srv);
      const secrets = [randomBytes(32), randomBytes(32)];
      for (let i = 0; i < 4; i++) assert.equal((await s.register(`peer${i % 2}`, `${i}.txt`, secrets[i % 2])).type, 'A');
      expectCode(await s.register('peer9', 'new.txt', randomBytes(32)), 'INDEX_FULL');
      assert.equal((await s.register('peer0', '0.txt', secrets[0])).type, 'A', 'a refresh is not a new entry');
      assert.equal((await s.deregister('peer1', '1.txt', secrets[1])).type, 'A');
      assert.equal((await s.register('peer9', 'new.txt', randomBytes(32))).type, 'A');
      assert.equal(srv.server.registry.size, 4);
    });
  });
});
