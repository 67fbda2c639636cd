// Fair uploads over real sockets: one address (127.0.0.2) attacks a serving peer while an honest downloader (127.0.0.1) is still served.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ContentServer, ContentServerOptions, UploadRecord } from '../../src/peer/content-server';
import { DownloadSource, Downloader, DownloaderOptions } from '../../src/peer/download/downloader';
import { readOptions } from '../../src/peer/peer-options';
import { P2PError } from '../../src/protocol/errors';
import { encodeDownloadRequest } from '../../src/protocol/tcp';
import {
  headerFor,
  makeTempDir,
  RawContentClient,
  RawSource,
  readRange,
  removeDir,
  serveFiles,
  sha256OfFile,
  TestFile,
  waitUntil,
  writeTestFile,
} from '../support/peers';

const KiB = 1024;
const MiB = 1024 * 1024;
const ATTACKER = '127.0.0.2';

/** Rejects with `what` when `p` has not settled within `ms`: the bound a protection promises. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe('hardening: fair uploads', function () {
  this.timeout(30_000);
  let dir: string;
  let folder: string;
  let file: TestFile;
  const servers: (ContentServer | RawSource)[] = [];
  const clients: RawContentClient[] = [];
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  const logs: string[] = [];

  async function serve(files: TestFile[], opts: Partial<ContentServerOptions> = {}): Promise<ContentServer> {
    const s = await serveFiles(files, opts);
    servers.push(s);
    return s;
  }

  async function attacker(server: ContentServer): Promise<RawContentClient> {
    const c = await RawContentClient.connect(server.port, '127.0.0.1', ATTACKER);
    clients.push(c);
    return c;
  }

  function downloader(opts: DownloaderOptions = {}): Downloader {
    return new Downloader({ log: (level, message) => logs.push(`${level}: ${message}`), ...opts });
  }

  function source(server: ContentServer | RawSource, peerName: string): DownloadSource {
    return { peerName, host: '127.0.0.1', port: server.port };
  }

  async function honestDownload(server: ContentServer, f = file): Promise<void> {
    const result = await downloader().fetch({ contentName: f.name, sha256: f.sha256, size: f.size, sources: [source(server, 'honest-source')], folder });
    assert.equal(await sha256OfFile(result.path), f.sha256);
    await fsp.rm(result.path);
  }

  function dRequest(f: TestFile, offset = 0, length = 0): Buffer {
    return encodeDownloadRequest({ type: 'D', contentName: f.name, sha256: Buffer.from(f.sha256, 'hex'), offset, length });
  }

  beforeEach(async function () {
    dir = await makeTempDir('fair-uploads');
    folder = path.join(dir, 'downloads');
    await fsp.mkdir(path.join(dir, 'shared'));
    file = await writeTestFile(path.join(dir, 'shared'), 'album.bin', 2 * MiB + 777);
    logs.length = 0;
  });

  afterEach(async function () {
    for (const t of timers.splice(0)) clearInterval(t);
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await removeDir(dir);
  });

  describe('slowloris: half-sent D requests', function () {
    it('70 half-sent D requests from one address hold 8 connections, and an honest download still completes', async function () {
      const server = await serve([file]);
      const half = dRequest(file).subarray(0, 20);
      const busy: string[] = [];
      await Promise.all(
        Array.from({ length: 70 }, async () => {
          const c = await attacker(server);
          c.send(half);
          // Held connections never answer; refused ones get E BUSY at once.
          void c.readResponse().then((r) => r.type === 'E' && r.code === 'BUSY' && busy.push(r.message), () => undefined);
        }),
      );
      await waitUntil(() => busy.length + server.connectionCount === 70, 'every attacking connection to be held or refused');

      await honestDownload(server);

      assert.equal(server.connectionCount, 8, 'the attacker still holds exactly its 8 connections');
      assert.equal(busy.length, 62);
      assert.match(busy[0], /this address already holds its share/);
    });

    it('a dual-stack server counts each IPv4 client by its own address, not as one IPv6 /64', async function () {
      const server = await serveFiles([file], { maxConnectionsPerAddress: 2 }, '::');
      servers.push(server);
      const held = await Promise.all([attacker(server), attacker(server)]);
      held.forEach((c) => c.send(dRequest(file).subarray(0, 20)));
      const third = await attacker(server);
      const r = await third.readResponse();
      assert.ok(r.type === 'E' && r.code === 'BUSY', JSON.stringify(r));

      // 127.0.0.1 arrives as ::ffff:127.0.0.1, like the attacker's ::ffff:127.0.0.2: still another address.
      await honestDownload(server);
    });

    it('a D dripped one byte at a time is refused at the header deadline, not the idle timeout', async function () {
      const server = await serve([file], { headerTimeoutMs: 500, idleTimeoutMs: 60_000 });
      const d = dRequest(file);
      const drippers = await Promise.all(Array.from({ length: 8 }, () => attacker(server)));
      let sent = 0;
      // The attacker's clock, not a synchronisation: a byte every 100 ms keeps any idle timer young.
      timers.push(
        setInterval(() => {
          for (const c of drippers) if (!c.isClosed) c.send(d.subarray(sent, sent + 1));
          sent++;
        }, 100),
      );
      const started = performance.now();

      await honestDownload(server);
      const answers = await within(Promise.all(drippers.map((c) => c.readResponse())), 3_000, 'the drippers refused');

      for (const r of answers) assert.ok(r.type === 'E' && r.code === 'MALFORMED' && /incomplete after 500 ms/.test(r.message), JSON.stringify(r));
      assert.ok(sent < d.length, `the D was still incomplete (${sent} of ${d.length} bytes)`);
      assert.ok(performance.now() - started < 2_000);
      await Promise.all(drippers.map((c) => c.closed));
    });

    it('a connection that never sends a D is refused at the header deadline', async function () {
      const server = await serve([file], { headerTimeoutMs: 300, idleTimeoutMs: 60_000 });
      const silent = await attacker(server);
      const r = await within(silent.readResponse(), 3_000, 'the silent connection refused');
      assert.ok(r.type === 'E' && r.code === 'MALFORMED' && /no D request within 300 ms/.test(r.message), JSON.stringify(r));
      await silent.closed;
    });
  });

  describe('drip-feed: a transfer slower than the minimum rate', function () {
    it('the content server hangs up on a downloader that reads a trickle, while an honest one is served', async function () {
      // Larger than what the kernel's socket buffers absorb, so the trickle is what the server sees.
      const big = await writeTestFile(path.join(dir, 'shared'), 'big.bin', 32 * MiB);
      const server = await serve([big, file], { minTransferRate: { minBytesPerSecond: 2 * MiB, windowMs: 500 }, idleTimeoutMs: 60_000 });
      const cut = new Promise<UploadRecord>((resolve) => server.on('upload', (u: UploadRecord) => u.contentName === 'big.bin' && resolve(u)));
      const slow = net.connect({ port: server.port, host: '127.0.0.1', localAddress: ATTACKER });
      sockets.push(slow);
      slow.on('error', () => undefined);
      await once(slow, 'connect');
      // Reads one chunk, then nothing for 100 ms: a few hundred KiB a second at most.
      slow.on('data', () => {
        slow.pause();
        timers.push(setTimeout(() => slow.resume(), 100));
      });
      slow.write(dRequest(big));

      await honestDownload(server);
      const record = await within(cut, 10_000, 'the trickling downloader dropped');

      assert.equal(record.ok, false);
      assert.ok(record.sent < big.size, `sent ${record.sent} of ${big.size} bytes`);
      assert.equal(record.remote.includes(ATTACKER), true, record.remote);
    });

    it('a downloader drops a source that drip-feeds and completes from another source', async function () {
      const honest = await serve([file]);
      const dripper = await RawSource.start(file, (req, socket) => {
        socket.write(headerFor(req, file.size));
        let at = req.offset;
        // One real byte every 20 ms: the stall timer never fires.
        const t = setInterval(() => {
          if (socket.destroyed) return clearInterval(t);
          void readRange(file, at++, 1).then((b) => !socket.destroyed && socket.write(b));
        }, 20);
        timers.push(t);
      });
      servers.push(dripper);

      const result = await downloader({ minTransferRate: { minBytesPerSecond: 64 * KiB, windowMs: 200 }, stallTimeoutMs: 60_000, chunkBytes: 256 * KiB }).fetch({
        contentName: file.name,
        sha256: file.sha256,
        size: file.size,
        sources: [source(dripper, 'dripper'), source(honest, 'honest')],
        folder,
      });

      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.ok(dripper.requests.length >= 1, 'the dripper was asked for a range');
      const dropped = logs.find((l) => /source dripper .*dropped: .*below the minimum of 65536 bytes a second/.test(l));
      assert.ok(dropped, `the dripper was dropped for its rate; log:\n${logs.join('\n')}`);
    });
  });

  describe('a flood of tiny D requests', function () {
    it('counts requests per address: 600 one-byte D requests at 200 a second take 2 s, an honest request from another address none', async function () {
      const server = await serve([file], { requestsPerSecond: 200 });
      const flooders = await Promise.all(Array.from({ length: 4 }, () => attacker(server)));
      const started = performance.now();
      const flood = Promise.all(
        flooders.map(async (c) => {
          c.send(Buffer.concat(Array.from({ length: 150 }, (_, i) => dRequest(file, i, 1))));
          for (let i = 0; i < 150; i++) assert.equal((await c.readResponse()).type, 'C');
        }),
      );

      const honest = await RawContentClient.connect(server.port, '127.0.0.1');
      clients.push(honest);
      const asked = performance.now();
      honest.request({ contentName: file.name, sha256: file.sha256, offset: 0, length: 1000 });
      const r = await honest.readResponse();
      const honestMs = performance.now() - asked;
      assert.ok(r.type === 'C' && r.body.equals(await readRange(file, 0, 1000)));

      await flood;
      const floodMs = performance.now() - started;
      // The burst of 200 is free; the other 400 wait their turn at 200 a second.
      assert.ok(floodMs >= 1_800, `600 requests were answered in ${floodMs.toFixed(0)} ms`);
      assert.ok(honestMs < 500, `the honest request waited ${honestMs.toFixed(0)} ms`);
    });
  });

  describe('open files are cached per (name, hash), never past their share', function () {
    it('serves many requests from one open file', async function () {
      const server = await serve([file]);
      const c = await RawContentClient.connect(server.port);
      clients.push(c);
      for (let i = 0; i < 20; i++) {
        c.request({ contentName: file.name, sha256: file.sha256, offset: i * 100, length: 100 });
        assert.equal((await c.readResponse()).type, 'C');
      }
      assert.equal(server.openFileCount, 1);
    });

    it('a share removed lets go of its open file at the next request for it', async function () {
      let shared = true;
      const server = new ContentServer({
        lookup: (name, hash) => (shared && name === file.name && hash === file.sha256 ? file : undefined),
      });
      servers.push(server);
      await server.listen(0, '127.0.0.1');
      const c = await RawContentClient.connect(server.port);
      clients.push(c);
      c.request({ contentName: file.name, sha256: file.sha256, offset: 0, length: 10 });
      assert.equal((await c.readResponse()).type, 'C');
      assert.equal(server.openFileCount, 1);

      shared = false;
      c.request({ contentName: file.name, sha256: file.sha256, offset: 0, length: 10 });
      const r = await c.readResponse();
      assert.ok(r.type === 'E' && r.code === 'NOT_SHARED', JSON.stringify(r));
      assert.equal(server.openFileCount, 0);
    });

    it('a shared file deleted after it was cached is not served from the open handle', async function () {
      const server = await serve([file]);
      const c = await RawContentClient.connect(server.port);
      clients.push(c);
      c.request({ contentName: file.name, sha256: file.sha256, offset: 0, length: 10 });
      assert.equal((await c.readResponse()).type, 'C');

      await fsp.rm(file.path);
      const again = await RawContentClient.connect(server.port);
      clients.push(again);
      again.request({ contentName: file.name, sha256: file.sha256, offset: 0, length: 10 });
      const r = await again.readResponse();
      assert.ok(r.type === 'E' && r.code === 'NOT_SHARED', JSON.stringify(r));
      assert.equal(server.openFileCount, 0);
    });
  });

  describe('settings', function () {
    const badSetting = (pattern: RegExp) => (e: unknown) => e instanceof P2PError && e.code === 'BAD_SETTING' && pattern.test(e.message);

    it('refuses a negative minimum rate or a zero per-address cap with BAD_SETTING, naming the setting', function () {
      const base = { peerName: 'sam', index: '127.0.0.1:7870', downloadFolder: dir };
      assert.throws(() => readOptions({ ...base, minTransferRate: -1 }), badSetting(/minimum transfer rate/));
      assert.throws(() => readOptions({ ...base, maxConnectionsPerAddress: 0 }), badSetting(/connections per address/));
      assert.throws(() => new ContentServer({ lookup: () => undefined, headerTimeoutMs: 0 }), badSetting(/headerTimeoutMs/));
      assert.throws(() => new Downloader({ minTransferRate: { minBytesPerSecond: 1, windowMs: -5 } }), badSetting(/window/));
      assert.deepEqual(readOptions({ ...base, minTransferRate: 0 }).minTransferRate, { minBytesPerSecond: 0, windowMs: 10_000 });
    });
  });
});
