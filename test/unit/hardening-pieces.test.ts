// Piece verification as an attacker plays it: a source sending a bad piece, one lying about the leaves, a corrupted .part, and a source with no piece root.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ContentServer, UploadRecord } from '../../src/peer/content-server';
import { DownloadSource, Downloader, FetchResult } from '../../src/peer/download/downloader';
import { partFileName } from '../../src/peer/download/placement';
import { hashFile } from '../../src/peer/file-hash';
import { Peer } from '../../src/peer/peer';
import { P2PError } from '../../src/protocol/errors';
import { merkleRoot, PIECE_BYTES } from '../../src/protocol/pieces';
import { startIndexServer, RunningIndexServer } from '../support/index-server';
import { identityOfFile, makeTempDir, removeDir, sha256OfFile, TestFile, writeTestFile } from '../support/peers';

const MiB = 1024 * 1024;

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

describe('piece verification (hardening)', function () {
  this.timeout(30_000);
  let dir: string;
  let folder: string;
  let file: TestFile;
  let leaves: Buffer;
  let root: Buffer;
  const servers: ContentServer[] = [];
  const logs: string[] = [];

  beforeEach(async () => {
    dir = await makeTempDir('pieces');
    folder = path.join(dir, 'downloads');
    logs.length = 0;
    file = await writeTestFile(dir, 'movie.bin', 8 * MiB + 4321);
    leaves = (await hashFile(file.path)).leaves;
    root = merkleRoot(leaves);
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await removeDir(dir);
  });

  /**
   * A real ContentServer that says it shares `file` (its hash, its leaves) while the bytes it reads
   * are those of `onDisk`: how a poisoning peer looks from the downloader's side.
   */
  async function serve(opts: { onDisk?: string; leaves?: Buffer | null; rate?: number } = {}): Promise<{ server: ContentServer; sent: () => number }> {
    const onDisk = opts.onDisk ?? file.path;
    const id = await identityOfFile(onDisk);
    const served = { path: onDisk, size: file.size, sha256: file.sha256, ...id, leaves: opts.leaves === null ? undefined : (opts.leaves ?? leaves) };
    const server = new ContentServer({ lookup: (name, hash) => (name === file.name && hash === file.sha256 ? served : undefined), uploadRateLimit: opts.rate ?? 0 });
    await server.listen(0, '127.0.0.1');
    servers.push(server);
    let bytes = 0;
    server.on('upload', (u: UploadRecord) => (bytes += u.sent));
    return { server, sent: () => bytes };
  }

  /** A copy of the content with one byte flipped in every piece: whatever piece it sends is bad. */
  async function poisonedCopy(): Promise<string> {
    const bytes = await fsp.readFile(file.path);
    for (let at = 12_345; at < bytes.length; at += PIECE_BYTES) bytes[at] ^= 0xff;
    const p = path.join(dir, 'poisoned.bin');
    await fsp.writeFile(p, bytes);
    return p;
  }

  function source(server: ContentServer, peerName: string, withRoot = true): DownloadSource {
    return { peerName, host: '127.0.0.1', port: server.port, pieceRoot: withRoot ? root : undefined };
  }

  function fetch(sources: DownloadSource[], extra: { signal?: AbortSignal; onProgress?: (p: { received: number }) => void } = {}): Promise<FetchResult> {
    const downloader = new Downloader({ chunkBytes: 1 * MiB, log: (level, message) => logs.push(`${level}: ${message}`) });
    return downloader.fetch({ contentName: file.name, sha256: file.sha256, size: file.size, sources, folder, ...extra });
  }

  /** Closing a server reports every upload it was still in, so the byte counts are final. */
  async function closeAll(): Promise<void> {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  }

  it('one poisoning source among two honest ones: the download completes, the liar is named, no good piece is fetched twice', async () => {
    const liar = await serve({ onDisk: await poisonedCopy() });
    const alice = await serve();
    const bob = await serve();
    const liarLabel = `mallory (127.0.0.1:${liar.server.port})`;

    const result = await fetch([source(liar.server, 'mallory'), source(alice.server, 'alice'), source(bob.server, 'bob')]);
    await closeAll();

    assert.equal(await sha256OfFile(result.path), file.sha256);
    assert.equal(result.pieceChecked, true);
    assert.deepEqual(result.refused, [liarLabel]);
    assert.ok(
      logs.some((l) => l.startsWith('warn: ') && l.includes(liarLabel) && /does not match its hash/.test(l)),
      `no log line names the liar:\n${logs.join('\n')}`,
    );
    assert.ok(liar.sent() > 0, 'the liar was asked for a range, so it had its chance to poison one');
    // Every piece the liar sent was bad, so the honest two sent each byte at most once between them.
    assert.ok(alice.sent() + bob.sent() <= file.size, `honest sources sent ${alice.sent() + bob.sent()} bytes for ${file.size}`);
  });

  it('refuses a source whose piece hashes do not match the root, before taking a byte from it', async () => {
    const wrongLeaves = Buffer.from(leaves);
    wrongLeaves[5] ^= 0x01;
    const liar = await serve({ leaves: wrongLeaves });
    const alice = await serve();
    const liarLabel = `mallory (127.0.0.1:${liar.server.port})`;

    const result = await fetch([source(liar.server, 'mallory'), source(alice.server, 'alice')]);
    await closeAll();

    assert.equal(await sha256OfFile(result.path), file.sha256);
    assert.equal(result.pieceChecked, true);
    assert.deepEqual(result.refused, [liarLabel]);
    assert.ok(logs.some((l) => l.includes(liarLabel) && /do not match the piece root/.test(l)), logs.join('\n'));
    assert.equal(liar.sent(), 0, 'a source caught lying about its leaves sends no content');
    assert.equal(alice.sent(), file.size);
  });

  /** A hostile content server speaking the codec: it answers any P with `reply`, then hangs up. */
  async function hostile(reply: Buffer): Promise<{ port: number; close: () => Promise<void> }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(reply));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const close = () => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve())));
    extraClose.push(close);
    return { port: (server.address() as net.AddressInfo).port, close };
  }
  const extraClose: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(extraClose.splice(0).map((c) => c()));
  });

  it('refuses a leaf reply over the page cap or claiming another number of leaves, without waiting for or holding its bytes', async () => {
    // Header of a P reply: P, 0x81, u32 total, u32 first, u16 count; the leaves never follow.
    const header = (total: number, count: number) => Buffer.from([0x50, 0x81, ...u32(total), 0, 0, 0, 0, count >> 8, count & 0xff]);
    const huge = await hostile(header(9000, 9000));
    const endless = await hostile(Buffer.concat([header(0xffffffff, 1), leaves.subarray(0, 32)]));
    const alice = await serve();
    const sources: DownloadSource[] = [
      { peerName: 'huge', host: '127.0.0.1', port: huge.port, pieceRoot: root },
      { peerName: 'endless', host: '127.0.0.1', port: endless.port, pieceRoot: root },
      source(alice.server, 'alice'),
    ];
    const result = await fetch(sources);
    assert.equal(await sha256OfFile(result.path), file.sha256);
    assert.equal(result.pieceChecked, true);
    assert.deepEqual(result.refused.sort(), [`endless (127.0.0.1:${endless.port})`, `huge (127.0.0.1:${huge.port})`]);
    assert.ok(logs.some((l) => l.includes(`huge (127.0.0.1:${huge.port})`) && /at most 8192/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => l.includes(`endless (127.0.0.1:${endless.port})`) && /of 4294967295 to a request from 0 of 9/.test(l)), logs.join('\n'));
  });

  it('a resumed .part with a corrupted piece keeps the good pieces and fetches only that one again', async () => {
    const slow = await serve({ rate: 4 * MiB });
    const stop = new AbortController();
    await assert.rejects(
      fetch([source(slow.server, 'alice')], { signal: stop.signal, onProgress: (p) => p.received >= 4 * MiB && stop.abort() }),
      (e: unknown) => e instanceof P2PError && e.code === 'CANCELLED',
    );
    await closeAll();
    const part = path.join(folder, partFileName(file.name, file.sha256));
    const ranges = JSON.parse(await fsp.readFile(`${part}.json`, 'utf8')).ranges as [number, number][];
    assert.equal(ranges.length, 1);
    assert.equal(ranges[0][0], 0);
    const wholePieces = Math.floor(ranges[0][1] / PIECE_BYTES);
    assert.ok(wholePieces >= 3, `only ${ranges[0][1]} bytes were kept`);

    // Someone (a disk, another program, a planted file) changed one byte of piece 1 on disk.
    const fh = await fsp.open(part, 'r+');
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, PIECE_BYTES + 7);
    byte[0] ^= 0xff;
    await fh.write(byte, 0, 1, PIECE_BYTES + 7);
    await fh.close();

    const alice = await serve();
    const result = await fetch([source(alice.server, 'alice')]);
    await closeAll();

    assert.equal(await sha256OfFile(result.path), file.sha256);
    assert.equal(result.resumedFrom, (wholePieces - 1) * PIECE_BYTES, 'every whole piece but the corrupted one was kept');
    assert.equal(alice.sent(), file.size - result.resumedFrom, 'only what did not verify was fetched again');
  });

  it('a source with no piece root still downloads, checked as a whole file, and the result says so', async () => {
    const old = await serve({ leaves: null });
    const result = await fetch([source(old.server, 'old-peer', false)]);
    assert.equal(await sha256OfFile(result.path), file.sha256);
    assert.equal(result.pieceChecked, false);
    assert.ok(logs.some((l) => /only the whole-file SHA-256 is checked/.test(l)), logs.join('\n'));
  });

  describe('between real peers through a real index', () => {
    let index: RunningIndexServer | undefined;
    const peers: Peer[] = [];

    afterEach(async () => {
      await Promise.all(peers.splice(0).map((p) => p.quit()));
      await index?.close();
      index = undefined;
    });

    it('a shared file is registered with its piece root, and a download of it is checked piece by piece', async () => {
      index = await startIndexServer();
      const start = (peerName: string) =>
        Peer.start({ peerName, index: index!.address, listenHost: '127.0.0.1', downloadFolder: path.join(dir, `${peerName}-dl`) }).then((p) => (peers.push(p), p));
      const alice = await start('alice');
      const bob = await start('bob');
      const share = await alice.register(file.path);
      assert.equal(share.pieceRoot, root.toString('hex'));
      const result = await bob.download(file.name);
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.equal(result.pieceChecked, true);
      assert.deepEqual(result.refused, []);
    });
  });
});
