// A client written to the original report's 101-byte PDUs, talking to the index server over real UDP.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import {
  CLASSIC_SIZE, ClassicReply, ClassicRequest, decodeClassicReply, describeCode, encodeClassicReply, encodeClassicRequest,
} from '../../src/protocol';
import { RunningIndexServer, UdpProbe, canBind, startIndexServer } from '../support/index-server';

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

  async function classicClient(bindHost = '127.0.0.1'): Promise<ClassicClient> {
    const p = await UdpProbe.open(srv, bindHost);
    probes.push(p);
    return new ClassicClient(p);
  }

  before(async function () {
    twoHosts = await canBind('127.0.0.2');
  });

  beforeEach(async function () {
    probes = [];
    srv = await startIndexServer();
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
    expectE(await there.register('sam', 'Text.txt', '5000'), describeCode('NAME_TAKEN'));
    expectE(await there.send({ type: 'T', peerName: 'sam', contentName: 'Text.txt' }), describeCode('NOT_OWNER'));
    assert.equal((await there.send({ type: 'S', peerName: '', contentName: 'Text.txt' })).type, 'S', 'still registered');
    expectA(await here.send({ type: 'T', peerName: 'sam', contentName: 'Text.txt' }));
    expectE(await here.send({ type: 'S', peerName: '', contentName: 'Text.txt' }), describeCode('NOT_FOUND'));
    expectE(await here.send({ type: 'T', peerName: 'sam', contentName: 'Text.txt' }), describeCode('NOT_REGISTERED'));
    expectA(await there.register('sam', 'Other.txt', '5000')); // the name was freed with its last registration
  });

  it('removes every registration of a peer with an empty content name in T', async function () {
    for (const c of ['a.txt', 'b.txt', 'c.txt']) expectA(await here.register('sam', c, '5000'));
    expectA(await here.register('kim', 'a.txt', '5001'));
    const reply = await here.send({ type: 'T', peerName: 'sam', contentName: '' });
    assert.deepEqual(reply, { type: 'A', message: 'removed 3 registrations' });
    assert.deepEqual((await here.listAll()).lines, ['kim\ta.txt']);
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

  it('answers every classic PDU with CLASSIC_DISABLED when classic is off', async function () {
    const off = await startIndexServer({ classic: false });
    try {
      const p = await UdpProbe.open(off);
      probes.push(p);
      const client = new ClassicClient(p);
      expectE(await client.register('sam', 'a.txt', '5000'), describeCode('CLASSIC_DISABLED'));
      expectE(await client.send({ type: 'O', offset: 0 }), describeCode('CLASSIC_DISABLED'));
      expectE(await client.send({ type: 'S', peerName: '', contentName: 'a.txt' }), describeCode('CLASSIC_DISABLED'));
      assert.equal(off.server.registry.size, 0);
      // An E from another classic-off server is not answered with one more E.
      await p.send(encodeClassicReply({ type: 'E', message: 'This index server does not accept classic 101-byte PDUs' }));
      await p.expectSilence();
      assert.equal((await p.handshake()).length, 16, 'new-form PDUs still work');
    } finally {
      await off.close();
    }
  });
});
