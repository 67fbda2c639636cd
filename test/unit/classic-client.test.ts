// A client written to the original report's 101-byte PDUs, talking to the index server over real UDP.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import {
  CLASSIC_SIZE, ClassicReply, ClassicRequest, decodeClassicReply, describeCode, encodeClassicReply, encodeClassicRequest,
} from '../../src/protocol';
import { ManualClock, RunningIndexServer, UdpProbe, canBind, startIndexServer } from '../support/index-server';

/** The original client: sends a 101-byte PDU and reads a 101-byte reply. */
class ClassicClient {
  constructor(readonly probe: UdpProbe) {}

  async send(req: ClassicRequest): Promise<ClassicReply> {
    const raw = await this.probe.roundTrip(encodeClassicRequest(req));
    assert.equal(raw.length, CLASSIC_SIZE, 'every classic reply is 101 bytes');
    return decodeClassicReply(raw);
  }

  register(peerName: string, contentName: string, address: string) {
    return this.send({ type: 'R', peerName, contentName, address });
  }

  async listAll(): Promise<{ lines: string[]; pages: number }> {
    const lines: string[] = [];
    let offset = 0;
    let pages = 0;
    do {
      const page = await this.send({ type: 'O', offset });
      assert.equal(page.type, 'O');
      if (page.type !== 'O') break;
      pages++;
      lines.push(...page.lines.map((l) => `${l.peerName}\t${l.contentName}`));
      assert.ok(page.nextOffset === 0 || page.nextOffset > offset);
      offset = page.nextOffset;
    } while (offset !== 0);
    return { lines, pages };
  }
}

function expectA(reply: ClassicReply): void {
  assert.equal(reply.type, 'A', `expected A, got ${JSON.stringify(reply)}`);
}

function expectE(reply: ClassicReply, words: RegExp | string): void {
  assert.equal(reply.type, 'E', `expected E, got ${JSON.stringify(reply)}`);
  if (reply.type !== 'E') return;
  if (typeof words === 'string') assert.ok(reply.message.startsWith(words), reply.message);
  else assert.match(reply.message, words);
}

describe('classic 101-byte client', function () {
  let srv: RunningIndexServer;
  let probes: UdpProbe[];
  let here: ClassicClient;
  let twoHosts: boolean;

  async function classicClient(bindHost = '127.0.0.1', target: RunningIndexServer = srv): Promise<ClassicClient> {
    const p = await UdpProbe.open(target, bindHost);
    probes.push(p);
    return new ClassicClient(p);
  }

  before(async function () {
    twoHosts = await canBind('127.0.0.2');
  });

  beforeEach(async function () {
    probes = [];
    srv = await startIndexServer({ classic: true });
    here = await classicClient();
  });

  afterEach(async function () {
    await Promise.all(probes.map((p) => p.close()));
    await srv.close();
  });

  it('registers with "port" and with "host:port", and finds the source at the sending IP', async function () {
    expectA(await here.register('sam', 'Text.txt', '5000'));
    expectA(await here.register('sam', 'Song.mp3', '127.0.0.1:5001'));
    expectA(await here.register('sam', 'Any.bin', '0.0.0.0:5002'));
    assert.deepEqual(await here.send({ type: 'S', peerName: '', contentName: 'Text.txt' }), {
      type: 'S', peerName: 'sam', contentName: 'Text.txt', address: '127.0.0.1:5000',
    });
    const named = await here.send({ type: 'S', peerName: 'sam', contentName: 'Song.mp3' });
    assert.equal(named.type === 'S' && named.address, '127.0.0.1:5001');
  });

  it('refuses an address naming another host, and a port outside 1..65535', async function () {
    expectE(await here.register('sam', 'a.txt', '10.1.2.3:5000'), describeCode('BAD_ADDRESS'));
    expectE(await here.register('sam', 'a.txt', '0'), describeCode('BAD_ADDRESS'));
    expectE(await here.register('sam', 'a.txt', '70000'), describeCode('BAD_ADDRESS'));
    expectE(await here.register('sam', 'a.txt', 'not-an-address'), describeCode('BAD_ADDRESS'));
    expectE(await here.send({ type: 'S', peerName: '', contentName: 'a.txt' }), describeCode('NOT_FOUND'));
  });

  it('refuses names that break the rules, even when they fit the 20-byte field', async function () {
    expectE(await here.register('sam', 'dir/a.txt', '5000'), describeCode('BAD_NAME'));
    expectE(await here.register('sam', 'CON', '5000'), describeCode('BAD_NAME'));
    expectE(await here.register(' sam', 'a.txt', '5000'), describeCode('BAD_NAME'));
    expectE(await here.register('sam', '', '5000'), describeCode('BAD_NAME'));
  });

  it('refuses a duplicate peer name from another IP, and honours T only from the registering IP', async function () {
    if (!twoHosts) this.skip(); // needs 127.0.0.2 as a second host
    const there = await classicClient('127.0.0.2');
    expectA(await here.register('sam', 'Text.txt', '5000'));
    expectE(await there.register('sam', 'Other.txt', '5000'), describeCode('NAME_TAKEN'));
    expectE(await there.register('sam', 'Text.txt', '5000'), describeCode('ALREADY_LISTED'));
    expectE(await there.send({ type: 'T', peerName: 'sam', contentName: 'Text.txt' }), describeCode('NOT_OWNER'));
    assert.equal((await there.send({ type: 'S', peerName: '', contentName: 'Text.txt' })).type, 'S', 'still registered');
    expectA(await here.send({ type: 'T', peerName: 'sam', contentName: 'Text.txt' }));
    expectE(await here.send({ type: 'S', peerName: '', contentName: 'Text.txt' }), describeCode('NOT_FOUND'));
    expectE(await here.send({ type: 'T', peerName: 'sam', contentName: 'Text.txt' }), describeCode('NOT_REGISTERED'));
    expectA(await there.register('sam', 'Other.txt', '5000')); // the name was freed with its last registration
  });

  it('answers the same R sent twice with E in the report\'s words, and keeps the first registration', async function () {
    expectA(await here.register('Sam', 'Text.txt', '5000'));
    const again = await here.register('Sam', 'Text.txt', '5001');
    assert.deepEqual(again, { type: 'E', message: 'Username and file already exists in list, please pick another username/file combination' });
    assert.deepEqual(await here.send({ type: 'S', peerName: 'Jo', contentName: 'Text.txt' }), {
      type: 'S', peerName: 'Sam', contentName: 'Text.txt', address: '127.0.0.1:5000',
    });
  });

  it('refuses a T whose content field is empty (a client with short fields) and removes nothing', async function () {
    for (const c of ['a.txt', 'b.txt', 'c.txt']) expectA(await here.register('sam', c, '5000'));
    // What a client with 10-byte name fields sends: its name, then NUL up to byte 100.
    const t = Buffer.alloc(CLASSIC_SIZE);
    t.write('T', 0);
    t.write('sam', 1);
    expectE(decodeClassicReply(await here.probe.roundTrip(t)), describeCode('BAD_NAME'));
    assert.deepEqual((await here.listAll()).lines, ['sam\ta.txt', 'sam\tb.txt', 'sam\tc.txt']);
  });

  it('reads the peer name in S as the requester: any source is found, another peer before the requester itself', async function () {
    expectA(await here.register('Jo', 'Text1.txt', '5000'));
    assert.deepEqual(await here.send({ type: 'S', peerName: 'Sam', contentName: 'Text1.txt' }), {
      type: 'S', peerName: 'Jo', contentName: 'Text1.txt', address: '127.0.0.1:5000',
    });
    expectA(await here.register('Sam', 'Text1.txt', '5001'));
    for (let i = 0; i < 20; i++) {
      const found = await here.send({ type: 'S', peerName: 'Sam', contentName: 'Text1.txt' });
      assert.equal(found.type === 'S' && found.peerName, 'Jo', 'Sam asking is sent to Jo, not to itself');
    }
  });

  it('keeps a classic registration past any lease until its T, unless the operator sets --classic-ttl', async function () {
    const clock = new ManualClock();
    const timed = await startIndexServer({ classic: true, classicTtlSeconds: 300, ttlSeconds: 120, now: clock.now });
    const forever = await startIndexServer({ classic: true, ttlSeconds: 120, now: clock.now });
    try {
      const a = await classicClient('127.0.0.1', timed);
      const b = await classicClient('127.0.0.1', forever);
      expectA(await a.register('sam', 'a.txt', '5000'));
      expectA(await b.register('sam', 'a.txt', '5000'));
      clock.advance(299_000);
      timed.server.sweep();
      forever.server.sweep();
      assert.equal((await a.send({ type: 'S', peerName: '', contentName: 'a.txt' })).type, 'S', 'well past the 120 s lease');
      clock.advance(1000);
      assert.equal(timed.server.sweep().length, 1, '--classic-ttl 300 ends it at 300 s');
      clock.advance(365 * 24 * 3600_000);
      assert.equal(forever.server.sweep().length, 0);
      assert.equal((await b.send({ type: 'S', peerName: '', contentName: 'a.txt' })).type, 'S', 'a year on, still there');
      expectA(await b.send({ type: 'T', peerName: 'sam', contentName: 'a.txt' }));
      expectE(await b.send({ type: 'S', peerName: '', contentName: 'a.txt' }), describeCode('NOT_FOUND'));
    } finally {
      await timed.close();
      await forever.close();
    }
  });

  it('lists every registration across "+N" pages, in registration order', async function () {
    const expected: string[] = [];
    for (let i = 0; i < 30; i++) {
      const peer = `peer${i % 3}`;
      const content = `file-number-${String(i).padStart(2, '0')}.txt`;
      expectA(await here.register(peer, content, String(6000 + (i % 3))));
      expected.push(`${peer}\t${content}`);
    }
    const { lines, pages } = await here.listAll();
    assert.deepEqual(lines, expected);
    assert.ok(pages >= 6, `30 lines of ~26 bytes need several pages, got ${pages}`);
    expectE(await here.send({ type: 'O', offset: 999 }), describeCode('NOT_FOUND'));
  });

  it('answers a listing of an empty index with E NOT_FOUND, never with an empty O that would read as a request', async function () {
    const reply = await here.send({ type: 'O', offset: 0 });
    expectE(reply, describeCode('NOT_FOUND'));
    assert.equal(reply.type === 'E' && /nothing is registered/.test(reply.message), true);
  });

  it('shows classic registrations to new-form clients with size 0 and an all-zero hash', async function () {
    expectA(await here.register('oldie', 'Old.txt', '5000'));
    const p = await UdpProbe.open(srv);
    probes.push(p);
    const cookie = await p.handshake();
    const found = await p.ask({ type: 'S', requestId: p.id(), cookie, contentName: 'Old.txt' });
    assert.equal(found.type, 'S');
    if (found.type !== 'S') return;
    assert.deepEqual(
      found.sources.map((s) => [s.peerName, s.host, s.port, s.size, s.sha256.equals(Buffer.alloc(32))]),
      [['oldie', '127.0.0.1', 5000, 0, true]],
    );
    const clash = await p.ask({
      type: 'R', requestId: p.id(), cookie, secret: randomBytes(32), tcpPort: 4000, size: 1, sha256: randomBytes(32), peerName: 'oldie', contentName: 'x.txt',
    });
    assert.equal(clash.type === 'E' && clash.code, 5, 'a classic peer name is not free for a new-form peer');
  });

  it('answers an unknown type or bad UTF-8 with a 101-byte E', async function () {
    const unknown = Buffer.alloc(CLASSIC_SIZE);
    unknown.write('Q', 0);
    expectE(decodeClassicReply(await here.probe.roundTrip(unknown)), describeCode('UNKNOWN_TYPE'));
    const badUtf8 = encodeClassicRequest({ type: 'S', peerName: '', contentName: 'x' });
    badUtf8[21] = 0xff;
    const raw = await here.probe.roundTrip(badUtf8);
    assert.equal(raw.length, CLASSIC_SIZE);
    expectE(decodeClassicReply(raw), describeCode('MALFORMED'));
  });

  it('stays silent on a datagram of neither form, so a client\'s 13-byte hello puts no reply out of step', async function () {
    expectA(await here.register('sam', 'a.txt', '5000'));
    await here.probe.send(Buffer.from('HELLO server\n')); // 13 bytes, byte 1 is not the version
    await here.probe.send(Buffer.concat([Buffer.from('Rx'), Buffer.alloc(60)])); // neither 101 bytes nor new-form
    const list = await here.send({ type: 'O', offset: 0 });
    assert.deepEqual(list, { type: 'O', lines: [{ peerName: 'sam', contentName: 'a.txt' }], nextOffset: 0 }, 'the very next datagram answers the O');
    assert.equal(srv.server.stats.junk, 2);
    assert.equal(here.probe.pending, 0);
  });

  it('answers no classic PDU unless the operator turns classic on: a forged one gets no reply and registers nothing', async function () {
    const lines: string[] = [];
    const off = await startIndexServer({ log: (level, message) => lines.push(`${level} ${message}`) });
    try {
      const p = await UdpProbe.open(off);
      probes.push(p);
      for (const req of [
        encodeClassicRequest({ type: 'R', peerName: 'sam', contentName: 'a.txt', address: '5000' }),
        encodeClassicRequest({ type: 'O', offset: 0 }),
        encodeClassicRequest({ type: 'S', peerName: '', contentName: 'a.txt' }),
        encodeClassicReply({ type: 'E', message: 'This index server does not accept classic 101-byte PDUs' }),
      ]) {
        await p.send(req);
        await p.expectSilence();
      }
      assert.equal(off.server.registry.size, 0);
      assert.equal(off.server.stats.classicIgnored, 4);
      assert.equal(lines.filter((l) => /^info classic 101-byte PDUs arrive .* start with --classic/.test(l)).length, 1, lines.join('\n'));
      assert.equal((await p.handshake()).length, 16, 'new-form PDUs still work');
    } finally {
      await off.close();
    }
  });

  it('says at start-up that classic PDUs are answered and can be forged', async function () {
    const lines: string[] = [];
    const on = await startIndexServer({ classic: true, log: (level, message) => lines.push(`${level} ${message}`) });
    await on.close();
    assert.ok(lines.some((l) => /^info classic 101-byte PDUs are answered .*anyone can forge one.*stand until their T/.test(l)), lines.join('\n'));
  });
});
