// The secret never crosses the wire: an attacker who sniffs every R and T of a peer, first claim included, cannot act under its name.
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Peer } from '../../src/peer/peer';
import { ErrorCodes, IndexReply, decodeIndexReply, decodeIndexRequest, encodeIndexRequest } from '../../src/protocol';
import { MAC_END, MAC_OFFSET, encodeProven, indexKeyOf, requestMac } from '../../src/protocol/proof';
import { HEADER_BYTES } from '../../src/protocol/messages';
import { RunningIndexServer, UdpProbe, canBind, encodeRequest, startIndexServer } from '../support/index-server';
import { makeTempDir, removeDir, writeTestFile } from '../support/peers';

/**
 * A UDP relay between a peer and the index: every datagram either way is captured, as a sniffer on
 * the path would see it. `inject` sends from the relay's own upstream socket, i.e. from the peer's
 * address as the index sees it (an attacker who can spoof that address), and takes the reply.
 */
class SniffingRelay {
  readonly sent: Buffer[] = [];
  readonly received: Buffer[] = [];
  private peerAt?: dgram.RemoteInfo;
  private readonly injected = new Map<number, (reply: Buffer) => void>();

  private constructor(
    readonly front: dgram.Socket,
    readonly back: dgram.Socket,
  ) {
    front.on('message', (buf, from) => {
      this.peerAt = from;
      this.sent.push(Buffer.from(buf));
      back.send(buf);
    });
    back.on('message', (buf) => {
      const take = buf.length >= HEADER_BYTES ? this.injected.get(buf.readUInt32BE(2)) : undefined;
      if (take) return take(buf);
      this.received.push(Buffer.from(buf));
      if (this.peerAt) front.send(buf, this.peerAt.port, this.peerAt.address);
    });
  }

  static async open(index: RunningIndexServer): Promise<SniffingRelay> {
    const front = dgram.createSocket('udp4');
    const back = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
    await new Promise<void>((resolve) => back.connect(index.port, index.host, () => resolve()));
    return new SniffingRelay(front, back);
  }

  get address(): string {
    return `127.0.0.1:${this.front.address().port}`;
  }

  /** The captured datagrams of one type the peer sent. */
  sentOfType(letter: string): Buffer[] {
    return this.sent.filter((b) => b[0] === letter.charCodeAt(0));
  }

  /** The cookie and exchange key the index last gave the peer, read off the wire. */
  lastSession(): { cookie: Buffer; exchangeKey: Buffer } {
    const hello = this.received.map((b) => decodeIndexReply(b)).filter((r) => r.type === 'H').at(-1);
    assert.ok(hello && hello.type === 'H', 'no H reply went by');
    return { cookie: hello.cookie, exchangeKey: hello.exchangeKey };
  }

  /** An id above every one the peer used, as an attacker who counts the peer's ids would pick (the replay window refuses older ones). */
  freshId(): number {
    const last = this.sent.filter((b) => b[0] !== 0x48).at(-1)!.readUInt32BE(2);
    this.idsTaken++;
    return (last + 16 + this.idsTaken) >>> 0;
  }

  private idsTaken = 0;

  inject(buf: Buffer): Promise<IndexReply> {
    const requestId = buf.readUInt32BE(2);
    return new Promise((resolve) => {
      this.injected.set(requestId, (reply) => {
        this.injected.delete(requestId);
        resolve(decodeIndexReply(reply));
      });
      this.back.send(buf);
    });
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}

function expectRefused(reply: IndexReply, code: keyof typeof ErrorCodes, message?: RegExp): void {
  assert.equal(reply.type, 'E', `expected E ${code}, got ${JSON.stringify(reply)}`);
  if (reply.type !== 'E') return;
  assert.equal(reply.code, ErrorCodes[code], `expected E ${code}, got code ${reply.code}: ${reply.message}`);
  if (message) assert.match(reply.message, message);
}

/** A captured R or T with one range of bytes replaced, as an attacker edits a datagram. */
function patched(buf: Buffer, at: number, bytes: Buffer): Buffer {
  const out = Buffer.from(buf);
  bytes.copy(out, at);
  return out;
}

describe('hardening: R and T prove the peer name without sending the secret', function () {
  this.timeout(20_000);
  const secret = randomBytes(32);
  let index: RunningIndexServer;
  let relay: SniffingRelay;
  let peer: Peer;
  let dir: string;
  let attacker: UdpProbe;
  let capturedR: Buffer;

  before(async function () {
    if (!(await canBind('127.0.0.2'))) this.skip();
    index = await startIndexServer();
    relay = await SniffingRelay.open(index);
    dir = await makeTempDir('ownership-proof');
    const file = await writeTestFile(dir, 'report.pdf', 4096);
    // The victim: a real peer engine, talking to the index through the sniffer. Its very first R is the first claim of "sam".
    peer = await Peer.start({ peerName: 'sam', index: relay.address, downloadFolder: path.join(dir, 'downloads'), listenHost: '127.0.0.1', secret });
    await peer.register(path.join(dir, file.name));
    capturedR = relay.sentOfType('R')[0];
    assert.ok(capturedR, 'the sniffer saw the first claim');
    attacker = await UdpProbe.open(index, '127.0.0.2');
    await attacker.handshake();
  });

  after(async function () {
    await peer?.quit();
    relay?.close();
    await attacker?.close();
    await index?.close();
    await removeDir(dir);
  });

  /** What the index lists under "sam": the victim's one registration, at its own address, is all there is. */
  function samHolds(): string[] {
    return index.server.registry.store.entriesOf('sam').map((e) => `${e.contentName}@${e.host}`);
  }

  it('never sends the secret, nor the index key it proves with: every datagram the peer sent is searched', async function () {
    await peer.deregister('report.pdf');
    await peer.register(path.join(dir, 'report.pdf'));
    const key = indexKeyOf(secret);
    assert.ok(relay.sentOfType('R').length >= 2 && relay.sentOfType('T').length >= 1, 'R and T went by');
    for (const datagram of relay.sent) {
      assert.equal(datagram.indexOf(secret), -1, 'the secret crossed the wire');
      assert.equal(datagram.indexOf(key), -1, 'the index key crossed the wire in clear');
    }
    // A sniffer that tries every 32 bytes it saw as the key finds none that makes the R's MAC.
    const mac = capturedR.subarray(MAC_OFFSET, MAC_END);
    for (const datagram of [...relay.sent, ...relay.received]) {
      for (let at = 0; at + 32 <= datagram.length; at++) {
        assert.ok(!requestMac(datagram.subarray(at, at + 32), capturedR).equals(mac), `the bytes at ${at} of a captured datagram are the key`);
      }
    }
  });

  it('refuses a sniffed R replayed from another address, with the victim\'s cookie or the attacker\'s own', async function () {
    expectRefused(decodeIndexReply(await attacker.roundTrip(capturedR)), 'BAD_COOKIE');
    const ownCookie = await attacker.handshake();
    expectRefused(decodeIndexReply(await attacker.roundTrip(patched(capturedR, HEADER_BYTES, ownCookie))), 'BAD_PROOF', /MAC/);
    assert.deepEqual(samHolds(), ['report.pdf@127.0.0.1']);
  });

  it('refuses a new R under the sniffed name, built from everything on the wire (forgery)', async function () {
    const cookie = await attacker.handshake();
    const claim = decodeIndexRequest(capturedR);
    assert.equal(claim.type, 'R');
    if (claim.type !== 'R') return;
    const evil = { type: 'R' as const, cookie, tcpPort: 6666, size: 1, sha256: randomBytes(32), peerName: 'sam', contentName: 'evil.exe' };
    // Every 32 bytes the sniffer saw, tried as the key, with the victim's own claim riding along.
    const candidates = [claim.mac, claim.keyShare, claim.wrappedKey, claim.cookie, randomBytes(32)];
    for (const key of candidates) {
      const forged = encodeProven({ ...evil, requestId: attacker.id() }, key, { keyShare: claim.keyShare, wrappedKey: claim.wrappedKey });
      expectRefused(decodeIndexReply(await attacker.roundTrip(forged)), 'BAD_PROOF');
    }
    // With a key and claim of its own it is simply another peer, and the name is taken.
    expectRefused(await attacker.ask({ ...evil, requestId: attacker.id(), secret: randomBytes(32) }), 'NAME_TAKEN');
    assert.deepEqual(samHolds(), ['report.pdf@127.0.0.1']);
  });

  it('refuses a T forged from a captured R, even sent from the victim\'s own address with its cookie', async function () {
    const r = decodeIndexRequest(capturedR);
    if (r.type !== 'R') return assert.fail('captured R did not decode as R');
    const { cookie } = relay.lastSession();
    const forged = { type: 'T' as const, cookie, mac: r.mac, keyShare: r.keyShare, wrappedKey: r.wrappedKey, peerName: 'sam', contentName: '' };
    // The R's own MAC, then every 32 bytes of it tried as the key.
    expectRefused(await relay.inject(encodeIndexRequest({ ...forged, requestId: relay.freshId() })), 'BAD_PROOF');
    for (const key of [r.mac, r.keyShare, r.wrappedKey]) {
      const { mac: _m, keyShare, wrappedKey, ...unproven } = { ...forged, requestId: relay.freshId() };
      expectRefused(await relay.inject(encodeProven(unproven, key, { keyShare, wrappedKey })), 'BAD_PROOF');
    }
    assert.deepEqual(samHolds(), ['report.pdf@127.0.0.1']);
  });

  it('answers a wrong MAC with a clear E BAD_PROOF, changes nothing, and lets the genuine request with that id run', async function () {
    const { cookie, exchangeKey } = relay.lastSession();
    const requestId = relay.freshId();
    const genuine = encodeRequest(
      { type: 'R', requestId, cookie, secret, tcpPort: 7777, size: 1, sha256: randomBytes(32), peerName: 'sam', contentName: 'second.txt' },
      exchangeKey,
    );
    const damaged = patched(genuine, MAC_OFFSET, Buffer.from([genuine[MAC_OFFSET] ^ 1]));
    expectRefused(await relay.inject(damaged), 'BAD_PROOF', /MAC of this R was not made with the key peer name "sam" is bound to/);
    assert.deepEqual(samHolds(), ['report.pdf@127.0.0.1']);
    const reply = await relay.inject(genuine);
    assert.equal(reply.type, 'A', JSON.stringify(reply));
    assert.deepEqual(samHolds().sort(), ['report.pdf@127.0.0.1', 'second.txt@127.0.0.1']);
    // The same genuine bytes again are a retry: the cached A, nothing run twice.
    assert.equal((await relay.inject(genuine)).type, 'A');
  });
});
