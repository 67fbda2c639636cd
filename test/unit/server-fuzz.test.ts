// Hundreds of thousands of random and mutated datagrams at a live index server: it must stay correct, bug-free and lean.
import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  CLASSIC_SIZE, ClassicRequest, MAX_DATAGRAM, encodeClassicRequest, encodeIndexRequest,
} from '../../src/protocol';
import { ManualClock, RunningIndexServer, TestRequest, UdpProbe, encodeRequest, startIndexServer } from '../support/index-server';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const DATAGRAMS = Number(process.env.FUZZ_DATAGRAMS ?? 200_000);
/** Datagrams sent before waiting for the server to catch up: keeps the socket buffers from overflowing. */
const WINDOW = 256;

/** xorshift32: fast, and seeded so a failure can be replayed with FUZZ_SEED. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function heapMb(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed / 1e6;
}

/** Polls until `condition` holds or `ms` pass; for the server's counters, which have no event. */
async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return true;
}

class Fuzzer {
  readonly rand: () => number;
  private readonly templates: Buffer[];

  constructor(seed: number, cookie: Buffer) {
    this.rand = prng(seed);
    const names = ['a', 'Text.txt', 'peer-one', 'x'.repeat(255), 'naïve.txt', 'song 1.mp3', '日本語.txt'];
    const pick = () => names[Math.floor(this.rand() * names.length)];
    const newForm: TestRequest[] = [];
    for (let i = 0; i < 12; i++) {
      const secret = Buffer.alloc(32, i % 3);
      const sha256 = Buffer.alloc(32, i);
      newForm.push(
        { type: 'H', requestId: i },
        { type: 'R', requestId: i, cookie, secret, tcpPort: 1 + i, size: i * 1000, sha256, peerName: `fuzz${i % 4}`, contentName: pick() },
        { type: 'T', requestId: i, cookie, secret, peerName: `fuzz${i % 4}`, contentName: i % 2 ? '' : pick() },
        { type: 'S', requestId: i, cookie, contentName: pick() },
        { type: 'O', requestId: i, cookie, cursor: i },
      );
    }
    const classic: ClassicRequest[] = [
      { type: 'R', peerName: 'oldie', contentName: 'Old.txt', address: '5000' },
      { type: 'R', peerName: 'oldie2', contentName: 'b.txt', address: '127.0.0.1:5001' },
      { type: 'S', peerName: '', contentName: 'Old.txt' },
      { type: 'T', peerName: 'oldie', contentName: 'Old.txt' },
      { type: 'O', offset: 0 },
      { type: 'O', offset: 3 },
    ];
    this.templates = [...newForm.map((r) => encodeRequest(r)), ...classic.map(encodeClassicRequest)];
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  /** One datagram: a valid template or a mutation of one (or plain garbage). */
  next(): Buffer {
    const base = this.templates[this.int(this.templates.length)];
    const kind = this.int(12);
    switch (kind) {
      case 0:
        return base;
      case 1: // truncated
        return base.subarray(0, this.int(base.length));
      case 2:
      case 3: {
        // bit flips
        const b = Buffer.from(base);
        for (let k = 1 + this.int(8); k > 0; k--) b[this.int(b.length)] ^= 1 << this.int(8);
        return b;
      }
      case 4: {
        // a length byte that lies: any byte may be one, so lie at random positions after the header
        const b = Buffer.from(base);
        b[6 + this.int(Math.max(1, b.length - 6))] = this.int(256);
        return b;
      }
      case 5: {
        // bad UTF-8 in the text part
        const b = Buffer.from(base);
        const bad = [0xff, 0xc0, 0x80, 0xed, 0xf8][this.int(5)];
        b[Math.min(b.length - 1, Math.floor(b.length / 2) + this.int(Math.ceil(b.length / 2)))] = bad;
        return b;
      }
      case 6: // oversize
        return Buffer.concat([base, Buffer.alloc(MAX_DATAGRAM + 1 - base.length + this.int(800), 0x41)]);
      case 7: // trailing bytes
        return Buffer.concat([base, Buffer.from([this.int(256), this.int(256)])]);
      case 8: {
        // the other type letter, or a classic PDU flipped to look new-form and back
        const b = Buffer.from(base);
        if (b.length === CLASSIC_SIZE && this.rand() < 0.5) b[1] = b[1] === 0x81 ? 0x41 : 0x81;
        else b[0] = 'HRTSOAEDCZ'.charCodeAt(this.int(10));
        return b;
      }
      case 9: {
        // a 101-byte datagram of random bytes: classic or new-form depending on byte 1
        const b = Buffer.allocUnsafe(CLASSIC_SIZE);
        for (let i = 0; i < b.length; i++) b[i] = this.int(256);
        b[0] = 'RSTOH'.charCodeAt(this.int(5));
        return b;
      }
      case 10: {
        // a new-form header over garbage
        const b = Buffer.allocUnsafe(6 + this.int(120));
        for (let i = 0; i < b.length; i++) b[i] = this.int(256);
        b[0] = 'HRTSO'.charCodeAt(this.int(5));
        b[1] = 0x81;
        return b;
      }
      default: {
        const b = Buffer.allocUnsafe(this.int(300));
        for (let i = 0; i < b.length; i++) b[i] = this.int(256);
        return b;
      }
    }
  }
}

describe('index server under fuzzing', function () {
  this.timeout(Math.max(180_000, DATAGRAMS * 0.25)); // ~17k datagrams/s on a busy 2-core machine, with room
  let srv: RunningIndexServer;
  let sender: dgram.Socket;
  let checker: UdpProbe | undefined;

  afterEach(async function () {
    await checker?.close();
    await new Promise<void>((resolve) => sender.close(() => resolve()));
    await srv.close();
  });

  it(`survives ${DATAGRAMS.toLocaleString('en')} random and mutated datagrams: still correct, no bugs, no leak`, async function () {
    const clock = new ManualClock();
    srv = await startIndexServer({ rateLimit: false, classic: true, now: clock.now, ttlSeconds: 60 });
    sender = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', () => resolve()));
    let repliesBytes = 0;
    sender.on('message', (m) => (repliesBytes += m.length));

    // A real cookie for the sender, so mutations of R/T/S/O reach the registry and not only the cookie check.
    const cookieProbe = encodeIndexRequest({ type: 'H', requestId: 1 });
    const gotCookie = new Promise<Buffer>((resolve) => sender.once('message', (m) => resolve(m.subarray(6, 22))));
    sender.send(cookieProbe, srv.port, '127.0.0.1');
    const cookie = await gotCookie;
    const seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
    const fuzz = new Fuzzer(seed, cookie);

    const send = (buf: Buffer) => new Promise<void>((resolve) => sender.send(buf, srv.port, '127.0.0.1', () => resolve()));
    let sent = 0;
    let lost = 0;
    const blast = async (n: number): Promise<void> => {
      for (let done = 0; done < n; ) {
        const batch: Promise<void>[] = [];
        for (let k = 0; k < WINDOW && done < n; k++, done++) batch.push(send(fuzz.next()));
        await Promise.all(batch);
        sent += batch.length;
        // Let the server catch up. A datagram the kernel dropped never arrives: after a while, count it
        // as lost and stop waiting for it, or every later batch would wait the full deadline.
        if (!(await until(() => srv.server.stats.datagrams >= sent - lost - WINDOW / 2, 500))) {
          lost = sent - srv.server.stats.datagrams;
        }
      }
    };

    await blast(Math.min(20_000, DATAGRAMS)); // warm-up: JIT, buffer pools, first registrations
    clock.advance(200_000); // everything the warm-up left expires
    srv.server.sweep();
    const before = heapMb();
    const started = Date.now();
    sent = srv.server.stats.datagrams;
    lost = 0;
    const target = sent + DATAGRAMS;
    await blast(DATAGRAMS);
    await until(() => srv.server.stats.datagrams >= target - lost, 5000);
    const seconds = (Date.now() - started) / 1000;
    const stats = srv.server.stats;

    assert.equal(stats.internalErrors, 0, 'no datagram hit a bug (E INTERNAL)');
    assert.ok(stats.datagrams >= target * 0.9, `the server saw ${stats.datagrams} of ${target} datagrams`);

    // Afterwards it still does the real job.
    checker = await UdpProbe.open(srv);
    const c = await checker.handshake();
    const secret = Buffer.alloc(32, 0xab);
    const sha256 = Buffer.alloc(32, 0xcd);
    const r = await checker.ask({ type: 'R', requestId: checker.id(), cookie: c, secret, tcpPort: 4321, size: 77, sha256, peerName: 'after-fuzz', contentName: 'Check.txt' });
    assert.equal(r.type, 'A', JSON.stringify(r));
    const s = await checker.ask({ type: 'S', requestId: checker.id(), cookie: c, contentName: 'Check.txt' });
    assert.equal(s.type, 'S');
    if (s.type === 'S') assert.deepEqual(s.sources.map((x) => [x.peerName, x.host, x.port, x.size, x.sha256.equals(sha256)]), [['after-fuzz', '127.0.0.1', 4321, 77, true]]);

    // Once the fuzz traffic's legitimate state (leases, cached replies) has expired, the heap is back where it was.
    clock.advance(200_000);
    srv.server.sweep();
    await until(() => srv.server.registry.size === 0, 5000);
    const after = heapMb();
    const growth = after - before;
    console.log(
      `      fuzz: ${DATAGRAMS} datagrams in ${seconds.toFixed(1)} s (${Math.round(DATAGRAMS / seconds)}/s), ` +
        `${stats.replies} replies (${repliesBytes} bytes), ${stats.dropped} dropped, ${lost} lost in the kernel, heap ${before.toFixed(1)} -> ${after.toFixed(1)} MB`,
    );
    assert.ok(growth < 4, `heap grew by ${growth.toFixed(1)} MB`);
  });
});
