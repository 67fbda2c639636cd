// Attacks on the downloader's in-place reads, played by hostile sources on real sockets (plain and TLS): late reads into a lent room, overruns, split headers, stray replies.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { DownloadProgress } from '../../src/peer/api';
import { DownloadSource, Downloader, DownloaderOptions, FetchResult } from '../../src/peer/download/downloader';
import { hashFile } from '../../src/peer/file-hash';
import { makeTlsIdentity, TlsIdentity } from '../../src/peer/tls-identity';
import type { DownloadRequest, PieceRequest } from '../../src/protocol/messages';
import { merkleRoot, MAX_LEAVES_PER_REPLY, PIECE_BYTES } from '../../src/protocol/pieces';
import { encodePieceReply, tryDecodeUploadRequest } from '../../src/protocol/tcp';
import { isP2P } from '../support/p2p-error';
import { headerFor, listDir, makeTempDir, readRange, removeDir, sha256OfFile, TestFile, TrackedServer, writeTestFile } from '../support/peers';

const KiB = 1024;
const MiB = 1024 * 1024;

/** What a hostile source does with each D it reads; P requests get honest leaves unless `onPiece` says otherwise. */
type OnD = (req: DownloadRequest, socket: net.Socket) => void | Promise<void>;
type OnP = (req: PieceRequest, socket: net.Socket) => void | Promise<void>;

/** A content server of the test's own making, plain or TLS: it parses D and P and lets the test answer. */
class HostileSource extends TrackedServer {
  readonly requests: DownloadRequest[] = [];
  connections = 0;
  private constructor(
    server: net.Server,
    readonly pin: Buffer | undefined,
  ) {
    super(server);
  }

  static async start(onD: OnD, opts: { tls?: TlsIdentity; onP?: OnP; onConnect?: (socket: net.Socket) => void; leaves: Buffer }): Promise<HostileSource> {
    const handle = (socket: net.Socket) => {
      src.connections++;
      src.track(socket);
      opts.onConnect?.(socket);
      let buf = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          let decoded;
          try {
            decoded = tryDecodeUploadRequest(buf);
          } catch {
            socket.destroy();
            return;
          }
          if (!decoded) return;
          buf = buf.subarray(decoded.bytes);
          const req = decoded.msg;
          const answer = req.type === 'P' ? (opts.onP ?? honestLeaves(opts.leaves))(req, socket) : (src.requests.push(req), onD(req, socket));
          void Promise.resolve(answer).catch(() => socket.destroy());
        }
      });
    };
    const server = opts.tls
      ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.3' }, handle).on('tlsClientError', () => undefined)
      : net.createServer(handle);
    const src: HostileSource = new HostileSource(server, opts.tls?.pin);
    await src.listen();
    return src;
  }
}

/** The P answer an honest source gives: one page of leaves from the one asked for. */
function honestLeaves(leaves: Buffer): OnP {
  return (req, socket) => {
    const total = leaves.length / 32;
    const count = Math.min(MAX_LEAVES_PER_REPLY, total - req.first);
    socket.write(encodePieceReply({ total, first: req.first, leaves: leaves.subarray(req.first * 32, (req.first + count) * 32) }));
  };
}

/** Resolves when the write has left for the kernel: the bytes are on their way to the downloader's socket. */
function send(socket: net.Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => socket.write(bytes, () => resolve()));
}

for (const wire of ['plain', 'TLS'] as const) {
  describe(`in-place reads attacked by a hostile source (${wire})`, function () {
    this.timeout(30_000);
    let dir: string;
    let folder: string;
    let file: TestFile;
    let leaves: Buffer;
    let root: Buffer;
    const sources: HostileSource[] = [];
    const logs: string[] = [];

    beforeEach(async function () {
      dir = await makeTempDir('inplace');
      folder = path.join(dir, 'downloads');
      file = await writeTestFile(dir, 'movie.bin', 4 * MiB + 777);
      leaves = (await hashFile(file.path)).leaves;
      root = merkleRoot(leaves);
      logs.length = 0;
    });

    afterEach(async function () {
      await Promise.all(sources.splice(0).map((s) => s.close()));
      await removeDir(dir);
    });

    async function source(onD: OnD, opts: { onP?: OnP; onConnect?: (socket: net.Socket) => void } = {}): Promise<HostileSource> {
      const s = await HostileSource.start(onD, { ...opts, leaves, tls: wire === 'TLS' ? await makeTlsIdentity(randomBytes(32)) : undefined });
      sources.push(s);
      return s;
    }

    /** A source that answers every D with the right header and bytes. */
    function honest(): Promise<HostileSource> {
      return source(async (req, socket) => {
        socket.write(Buffer.concat([headerFor(req, file.size), await readRange(file, req.offset, req.length)]));
      });
    }

    function as(s: HostileSource, peerName: string, pieces = true): DownloadSource {
      return { peerName, host: '127.0.0.1', port: s.port, pin: s.pin, pieceRoot: pieces ? root : undefined };
    }

    function fetch(list: DownloadSource[], opts: DownloaderOptions = {}, onProgress?: (p: DownloadProgress) => void): Promise<FetchResult> {
      const downloader = new Downloader({ log: (level, message) => logs.push(`${level}: ${message}`), ...opts });
      return downloader.fetch({ contentName: file.name, sha256: file.sha256, size: file.size, sources: list, folder, onProgress });
    }

    /** The file on disk is the content, byte for byte: hashed here, not taken from the downloader's word. */
    async function assertExact(result: FetchResult): Promise<void> {
      assert.equal((await fsp.stat(result.path)).size, file.size);
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.deepEqual(await listDir(folder), [file.name]);
    }

    for (const pieces of [true, false]) {
      const checks = pieces ? 'checked piece by piece' : 'classic, whole-file check only';
      it(`endgame: a slow source's late garbage lands in the room it was lent, never in a block that is checked or written (${checks})`, async function () {
        // Chunks of 2 MiB: the helper takes the first, the slow source the second (pieces 2 and 3),
        // and holds the room of piece 2 after its first 100 KiB.
        const slowChunk = 2 * MiB;
        let slowSent!: () => void;
        const slowStarted = new Promise<void>((resolve) => (slowSent = resolve));
        let slowSocket: net.Socket | undefined;
        const slow = await source(async (req, socket) => {
          slowSocket = socket;
          await send(socket, Buffer.concat([headerFor(req, file.size), await readRange(file, req.offset, 100 * KiB)]));
          slowSent();
        });
        // The helper serves its own chunks once the slow source is under way; then it joins the slow
        // one's chunk (endgame): piece 2 whole and 900 KiB of piece 3 at once, the rest when told.
        let rest: (() => Promise<void>) | undefined;
        const helper = await source(async (req, socket) => {
          await slowStarted;
          const body = await readRange(file, req.offset, req.length);
          if (req.offset < slowChunk || req.offset >= 2 * slowChunk) {
            socket.write(Buffer.concat([headerFor(req, file.size), body]));
            return;
          }
          const first = slowChunk + PIECE_BYTES + 900 * KiB - req.offset;
          await send(socket, Buffer.concat([headerFor(req, file.size), body.subarray(0, first)]));
          rest = () => send(socket, body.subarray(first));
        });
        let pieceTwoKept!: () => void;
        const keptTwo = new Promise<void>((resolve) => (pieceTwoKept = resolve));
        const run = fetch([as(helper, 'helper', pieces), as(slow, 'slow', pieces)], { chunkBytes: slowChunk, stallTimeoutMs: 20_000, minTransferRate: { minBytesPerSecond: 0, windowMs: 10_000 } }, (p) => {
          // The helper's own chunks and piece 2 are checked and on disk: piece 3 sits in a block.
          if (p.received >= file.size - slowChunk + PIECE_BYTES && rest) pieceTwoKept();
        });
        // A run that ends first (it should not) fails the test with its own error, not a timeout.
        await Promise.race([keptTwo, run]);
        // Now the slow source's read arrives where its room was lent: 900 KiB of garbage over bytes
        // the helper already sent.
        await send(slowSocket!, Buffer.alloc(900 * KiB, 0xee));
        await rest!();
        const result = await run;
        await assertExact(result);
        assert.deepEqual(result.refused, []);
        assert.ok(logs.some((l) => /helper also fetches 2\d{6}\.\.4194304 \(endgame\)/.test(l)), logs.join('\n'));
      });
    }

    it('bytes past the length a D announced, in the same write or a later one: the source is dropped as PROTOCOL and the file is exact', async function () {
      for (const later of [false, true]) {
        logs.length = 0;
        await fsp.rm(folder, { recursive: true, force: true });
        const chatty = await source(async (req, socket) => {
          const reply = Buffer.concat([headerFor(req, file.size), await readRange(file, req.offset, req.length)]);
          const extra = Buffer.alloc(64 * KiB, 0xee);
          if (!later) return void socket.write(Buffer.concat([reply, extra]));
          await send(socket, reply);
          socket.write(extra);
        });
        const good = await honest();
        const result = await fetch([as(chatty, 'chatty'), as(good, 'honest')], { chunkBytes: 1 * MiB });
        await assertExact(result);
        assert.ok(logs.some((l) => /chatty.*dropped.*broke the protocol/i.test(l)), logs.join('\n'));
        // The read into the room stops at the D's end and the next D may be on its way before the
        // extra bytes are read: then they are taken as its reply (a bad one). Dropped either way.
        assert.ok(chatty.requests.length <= 2, `${chatty.requests.length} requests to a source that overran a D`);
      }
    });

    it('a C header split byte by byte across reads, then the bytes: the file is exact', async function () {
      const split = await source(async (req, socket) => {
        const header = headerFor(req, file.size);
        for (let i = 0; i < header.length; i++) await send(socket, header.subarray(i, i + 1));
        socket.write(await readRange(file, req.offset, req.length));
      });
      const result = await fetch([as(split, 'split')], { chunkBytes: 1 * MiB });
      await assertExact(result);
      assert.ok(split.requests.length >= 1);
    });

    it('a source that sends before any D is dropped as PROTOCOL and not dialled again; the other source completes', async function () {
      const eager = await source(async () => undefined, {
        // A whole C header and bytes, as if a D had been read, the moment the connection opens.
        onConnect: (socket) => {
          const fake = headerFor({ type: 'D', contentName: file.name, sha256: Buffer.alloc(32), offset: 0, length: 64 * KiB }, file.size);
          socket.write(Buffer.concat([fake, Buffer.alloc(64 * KiB, 0xee)]));
        },
      });
      const good = await honest();
      const result = await fetch([as(eager, 'eager', false), as(good, 'honest', false)], { chunkBytes: 1 * MiB });
      await assertExact(result);
      assert.ok(logs.some((l) => /eager.*dropped.*broke the protocol/i.test(l)), logs.join('\n'));
      assert.equal(eager.connections, 1, 'a source that broke the protocol is not dialled again');
    });

    it('a P reply where the C header belongs drops the source as PROTOCOL; the other source completes', async function () {
      const confused = await source((req, socket) => {
        honestLeaves(leaves)({ type: 'P', contentName: req.contentName, sha256: req.sha256, first: 0 }, socket);
      });
      const good = await honest();
      const result = await fetch([as(confused, 'confused'), as(good, 'honest')], { chunkBytes: 1 * MiB });
      await assertExact(result);
      assert.ok(logs.some((l) => /confused.*dropped.*broke the protocol/i.test(l)), logs.join('\n'));
    });

    it('the only source sends garbage in place of a piece and then hangs: the run ends (PROTOCOL), nothing is placed', async function () {
      const liar = await source(async (req, socket) => {
        socket.write(Buffer.concat([headerFor(req, file.size), Buffer.alloc(PIECE_BYTES, 0xee)]));
      });
      await assert.rejects(fetch([as(liar, 'liar')], { chunkBytes: 2 * MiB, stallTimeoutMs: 20_000 }), isP2P('PROTOCOL', /piece 0 .*not matching its hash/));
      assert.ok(!(await listDir(folder)).includes(file.name));
    });

    it('piece hashes dripped a byte at a time (each inside the idle timeout) are dropped at the minimum rate; the download goes on from another source', async function () {
      let dripping: NodeJS.Timeout | undefined;
      const dripper = await source(async () => undefined, {
        onP: (req, socket) => {
          const total = leaves.length / 32;
          const reply = encodePieceReply({ total, first: req.first, leaves: leaves.subarray(req.first * 32, total * 32) });
          let i = 0;
          // One byte every 50 ms: the idle timer (400 ms) never fires, and the whole reply takes ~10 s.
          dripping = setInterval(() => (i < reply.length && !socket.destroyed ? socket.write(reply.subarray(i, ++i)) : clearInterval(dripping)), 50);
          socket.once('close', () => clearInterval(dripping));
        },
      });
      const good = await honest();
      const started = performance.now();
      const result = await fetch([as(dripper, 'dripper'), as(good, 'honest')], {
        chunkBytes: 1 * MiB,
        stallTimeoutMs: 400,
        minTransferRate: { minBytesPerSecond: 1024, windowMs: 500 },
      });
      const tookMs = performance.now() - started;
      clearInterval(dripping);
      await assertExact(result);
      assert.equal(result.pieceChecked, true);
      assert.ok(logs.some((l) => /no piece hashes from dripper.*below the minimum/.test(l)), logs.join('\n'));
      assert.ok(tookMs < 5_000, `the download waited ${tookMs.toFixed(0)} ms on the dripper's piece hashes`);
    });
  });
}
