// Content crosses the wire under TLS 1.3 pinned through the index: an eavesdropper, a source with the wrong key and an old plain source, played on real sockets.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { PeerOptions } from '../../src/peer/api';
import { Peer } from '../../src/peer/peer';
import { makeTlsIdentity, pinOf, tlsPrivateScalar, tlsSpki } from '../../src/peer/tls-identity';
import type { IndexRequest, Source } from '../../src/protocol/messages';
import { FakeIndex } from '../support/fake-index';
import { makeTempDir, RawContentClient, removeDir, serveFiles, sha256Hex, waitUntil, writeBytes } from '../support/peers';
import { isP2P } from '../support/p2p-error';

const MARKER = 'SECRET-MARKER-7f3a';
/** A file whose every 4 KiB holds the marker: any stretch of it in clear on the wire would show it. */
const CONTENT = Buffer.from(`${MARKER} ${'x'.repeat(4096 - MARKER.length - 2)}\n`.repeat(256));

/** A TCP relay between a downloader and a source that keeps every byte it passes, both ways: the eavesdropper. */
class WireTap {
  readonly seen: Buffer[] = [];
  connections = 0;
  private constructor(private readonly server: net.Server) {}

  static async to(port: number): Promise<WireTap> {
    const server = net.createServer();
    const tap = new WireTap(server);
    server.on('connection', (a) => {
      tap.connections++;
      const b = net.connect({ host: '127.0.0.1', port });
      for (const [from, to] of [[a, b], [b, a]] as const) {
        from.on('data', (d: Buffer) => {
          tap.seen.push(Buffer.from(d));
          to.write(d);
        });
        from.on('end', () => to.end());
        from.on('error', () => to.destroy());
        from.on('close', () => to.destroy());
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return tap;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get recording(): Buffer {
    return Buffer.concat(this.seen);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A TLS server with a key of its own choosing that records what any client sends it after the handshake. */
class HostileTlsSource {
  connections = 0;
  appBytes = 0;
  closedSockets = 0;
  private constructor(private readonly server: tls.Server) {}

  static async start(key: string, cert: string): Promise<HostileTlsSource> {
    const server = tls.createServer({ key, cert, minVersion: 'TLSv1.3' });
    const src = new HostileTlsSource(server);
    server.on('connection', (raw: net.Socket) => {
      src.connections++;
      raw.on('close', () => src.closedSockets++);
    });
    server.on('secureConnection', (s) => {
      s.on('data', (d: Buffer) => (src.appBytes += d.length));
      s.on('error', () => undefined);
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return src;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A bare TCP connection that sends nothing: a stranger that never starts its TLS handshake. */
class RawSocket {
  private constructor(readonly closed: Promise<void>) {}
  static open(port: number, localAddress: string): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(new RawSocket(new Promise((done) => s.on('close', () => done())))));
      s.on('error', reject);
    });
  }
}

function source(peerName: string, port: number, pin?: Buffer): Source {
  return { peerName, host: '127.0.0.1', port, size: CONTENT.length, sha256: Buffer.from(sha256Hex(CONTENT), 'hex'), claims: pin ? { pin } : {} };
}

describe('encrypted transfers pinned through the index', function () {
  this.timeout(30_000);
  let dir: string;
  const closers: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    dir = await makeTempDir('tls');
  });

  afterEach(async () => {
    while (closers.length) await closers.pop()!().catch(() => undefined);
    await removeDir(dir);
  });

  async function fakeIndex(sources: () => Source[]): Promise<FakeIndex> {
    const index = await FakeIndex.listing(sources);
    closers.push(() => index.close());
    return index;
  }

  async function startPeer(peerName: string, index: FakeIndex, opts: Partial<PeerOptions> = {}): Promise<Peer> {
    const peer = await Peer.start({
      peerName,
      index: index.address,
      listenHost: '127.0.0.1',
      downloadFolder: path.join(dir, `${peerName}-downloads`),
      shareDownloads: false,
      requestTimeoutMs: 200,
      requestTries: 3,
      ...opts,
    });
    closers.push(() => peer.quit());
    return peer;
  }

  it('moves a file between two peers over TLS: an eavesdropper on the wire never sees its bytes', async () => {
    let listed: Source[] = [];
    const index = await fakeIndex(() => listed);
    const sam = await startPeer('sam', index);
    const shared = path.join(dir, 'report.txt');
    await fsp.writeFile(shared, CONTENT);
    await sam.register(shared);
    const tap = await WireTap.to(sam.listenPort);
    closers.push(() => tap.close());
    // The index lists sam at the tap's port with the pin sam registered: the path an on-path reader sits on.
    const registered = index.requests.find((r): r is Extract<IndexRequest, { type: 'R' }> => r.type === 'R' && r.peerName === 'sam');
    assert.ok(registered?.claims?.pin, 'sam registers its pin');
    listed = [source('sam', tap.port, registered.claims.pin)];

    const ann = await startPeer('ann', index);
    const result = await ann.download('report.txt');

    assert.deepEqual(await fsp.readFile(result.path), CONTENT);
    assert.deepEqual(result.unencrypted, [], 'every byte came encrypted');
    const wire = tap.recording;
    assert.ok(wire.length > CONTENT.length, `the tap saw the transfer (${wire.length} bytes)`);
    assert.equal(wire.indexOf(MARKER), -1, 'the marker crossed the wire in clear');
    assert.equal(wire.indexOf(Buffer.from('report.txt')), -1, 'the content name in the D crossed the wire in clear');
  });

  it('drops a source whose TLS key is not the one it registered, before any D is sent, naming it', async () => {
    const registeredPin = (await makeTlsIdentity(randomBytes(32))).pin;
    const impostorKey = await makeTlsIdentity(randomBytes(32));
    const impostor = await HostileTlsSource.start(impostorKey.key, impostorKey.cert);
    closers.push(() => impostor.close());
    const index = await fakeIndex(() => [source('sam', impostor.port, registeredPin)]);
    const ann = await startPeer('ann', index);

    await assert.rejects(ann.download('report.txt'), isP2P('PIN_MISMATCH', /peer "sam" at 127\.0\.0\.1:\d+ showed a key with pin [0-9a-f]{16}…, not the registered/));
    await waitUntil(() => impostor.closedSockets === impostor.connections && impostor.connections > 0, 'the impostor sees the connection end');
    assert.equal(impostor.appBytes, 0, 'the impostor received application data (a D)');
  });

  it('never asks a pinned source over plain TCP: a plain listener at its address gets a TLS hello, not a D', async () => {
    const got: Buffer[] = [];
    const plain = net.createServer((s) => {
      s.on('data', (d: Buffer) => got.push(d));
      s.on('error', () => undefined);
      // An old content server would answer garbage to a hello; this one just hangs up.
      setImmediate(() => s.end());
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', () => resolve()));
    closers.push(() => new Promise((resolve) => plain.close(() => resolve(undefined))));
    const index = await fakeIndex(() => [source('sam', (plain.address() as net.AddressInfo).port, randomBytes(32))]);
    const ann = await startPeer('ann', index);

    await assert.rejects(ann.download('report.txt'), isP2P('SOURCE_GONE', /before secure TLS connection was established/));
    const bytes = Buffer.concat(got);
    assert.ok(bytes.length > 0, 'the downloader did dial');
    assert.equal(bytes[0], 0x16, 'the first byte is a TLS handshake record');
    assert.equal(bytes.indexOf(Buffer.from('report.txt')), -1, 'a D went out in clear');
  });

  it('marks a download from a source without a pin "not encrypted", and refuses such a source when encryption is required', async () => {
    const file = await writeBytes(dir, 'report.txt', CONTENT);
    const old = await serveFiles([file]);
    closers.push(() => old.close());
    const tap = await WireTap.to(old.port);
    closers.push(() => tap.close());
    const index = await fakeIndex(() => [source('old', tap.port)]);

    const strict = await startPeer('strict', index, { requireEncryption: true });
    await assert.rejects(strict.download('report.txt'), isP2P('NOT_ENCRYPTED', /"old" would send it in clear/));
    assert.equal(tap.connections, 0, 'a source was dialled although encryption is required');

    const ann = await startPeer('ann', index);
    await assert.rejects(ann.download('report.txt', { requireEncryption: true }), isP2P('NOT_ENCRYPTED'));
    const result = await ann.download('report.txt');
    assert.deepEqual(result.unencrypted, ['old']);
    assert.deepEqual(await fsp.readFile(result.path), CONTENT);
    // What the first test rules out really is what a plain transfer shows.
    assert.notEqual(tap.recording.indexOf(MARKER), -1, 'a plain transfer shows the marker on the wire');
  });

  it('keeps its pin across a restart with the same secret, registers it, and serves a certificate with that key', async () => {
    const index = await fakeIndex(() => []);
    const secret = randomBytes(32);
    const first = await startPeer('sam', index, { secret });
    const pin = first.tlsPin;
    await first.quit();
    const again = await startPeer('sam', index, { secret });
    assert.equal(again.tlsPin, pin, 'the pin changed across a restart');
    const other = await startPeer('bob', index, { secret: randomBytes(32) });
    assert.notEqual(other.tlsPin, pin);

    const shared = path.join(dir, 'a.txt');
    await fsp.writeFile(shared, 'a');
    await again.register(shared);
    const r = index.requests.find((q): q is Extract<IndexRequest, { type: 'R' }> => q.type === 'R');
    assert.equal(r?.claims?.pin?.toString('hex'), pin, 'the R claims the pin');

    const socket = tls.connect({ host: '127.0.0.1', port: again.listenPort, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const cert = socket.getPeerX509Certificate()!;
    assert.equal(socket.getProtocol(), 'TLSv1.3');
    socket.destroy();
    assert.equal(pinOf(cert.publicKey.export({ type: 'spki', format: 'der' })).toString('hex'), pin);
    assert.match(cert.toLegacyObject().asn1Curve ?? '', /prime256v1/);
  });

  it('holds a TLS handshake to the header deadline, and counts connections per address before any handshake', async () => {
    const file = await writeBytes(dir, 'report.txt', CONTENT);
    const identity = await makeTlsIdentity(randomBytes(32));
    const server = await serveFiles([file], { tls: { key: identity.key, cert: identity.cert }, headerTimeoutMs: 300, idleTimeoutMs: 60_000 });
    closers.push(() => server.close());

    // Eight connections from 127.0.0.2 that never say hello: each is closed at the header deadline, not the idle timeout.
    const silent = await Promise.all(Array.from({ length: 8 }, () => RawSocket.open(server.port, '127.0.0.2')));
    const t0 = performance.now();
    // While they are open, a ninth from that address is refused (E BUSY inside TLS); another address is served.
    const ninth = await RawContentClient.connectTls(server.port, '127.0.0.1', '127.0.0.2');
    const busy = await ninth.readResponse();
    assert.equal(busy.type === 'E' && busy.code, 'BUSY');
    const honest = await RawContentClient.connectTls(server.port);
    honest.request({ contentName: 'report.txt', sha256: file.sha256, offset: 0, length: 16 });
    const served = await honest.readResponse();
    assert.ok(served.type === 'C' && served.body.equals(CONTENT.subarray(0, 16)));
    await honest.close();
    await Promise.all(silent.map((s) => s.closed));
    const ms = performance.now() - t0;
    assert.ok(ms < 5_000, `silent handshakes were held ${Math.round(ms)} ms`);
  });

  it('derives the SPKI and pin of docs/protocol.md\'s vector from its secret', () => {
    const doc = readFileSync(path.resolve(__dirname, '../../../docs/protocol.md'), 'utf8');
    const block = /### TLS pin\n[\s\S]*?```json\n([\s\S]*?)\n```/.exec(doc);
    assert.ok(block, 'docs/protocol.md has a "TLS pin" vector');
    const v = JSON.parse(block[1]) as { secret: string; scalar: string; spki: string; pin: string };
    assert.equal(tlsPrivateScalar(Buffer.from(v.secret, 'hex')).toString('hex'), v.scalar);
    const spki = tlsSpki(Buffer.from(v.secret, 'hex'));
    assert.equal(spki.toString('hex'), v.spki);
    assert.equal(pinOf(spki).toString('hex'), v.pin);
  });
});
