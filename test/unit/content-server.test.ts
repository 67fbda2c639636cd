// ContentServer over real TCP: what it serves, what it refuses, and how it copes with hostile or vanishing downloaders.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ContentServer, UploadRecord } from '../../src/peer/content-server';
import { burstBytes } from '../../src/peer/rate-limit';
import { encodeDownloadRequest } from '../../src/protocol/tcp';
import { makeTempDir, RawContentClient, readRange, removeDir, serveFiles, sha256Hex, TestFile, waitUntil, writeBytes, writeTestFile } from '../support/peers';

describe('ContentServer', function () {
  let dir: string;
  let shared: TestFile;
  let secret: TestFile;
  let server: ContentServer | undefined;
  const clients: RawContentClient[] = [];

  async function connect(port = server!.port, host = '127.0.0.1'): Promise<RawContentClient> {
    const c = await RawContentClient.connect(port, host);
    clients.push(c);
    return c;
  }

  beforeEach(async function () {
    dir = await makeTempDir('content-server');
    shared = await writeTestFile(dir, 'shared.bin', 300_000);
    secret = await writeBytes(dir, 'secret.txt', Buffer.from('the secret next to the shared file\n'));
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
    server = undefined;
    await removeDir(dir);
  });

  describe('serving shared content', function () {
    it('sends a C header and every byte of a registered file', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 0, length: 0 });
      const r = await c.readResponse();
      assert.equal(r.type, 'C');
      if (r.type !== 'C') return;
      assert.deepEqual(r.header, { type: 'C', size: shared.size, offset: 0, length: shared.size });
      assert.equal(sha256Hex(r.body), shared.sha256);
    });

    it('sends exactly the requested middle range', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 100_001, length: 65_537 });
      const r = await c.readResponse();
      assert.equal(r.type, 'C');
      if (r.type !== 'C') return;
      assert.deepEqual(r.header, { type: 'C', size: shared.size, offset: 100_001, length: 65_537 });
      assert.deepEqual(r.body, await readRange(shared, 100_001, 65_537));
    });

    it('answers "to the end" from an offset, and an empty range at the very end', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 299_000, length: 0 });
      const tail = await c.readResponse();
      assert.equal(tail.type, 'C');
      if (tail.type !== 'C') return;
      assert.equal(tail.header.length, 1_000);
      assert.deepEqual(tail.body, await readRange(shared, 299_000, 1_000));
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: shared.size, length: 0 });
      const empty = await c.readResponse();
      assert.equal(empty.type, 'C');
      if (empty.type === 'C') assert.deepEqual([empty.header.offset, empty.header.length, empty.body.length], [shared.size, 0, 0]);
    });

    it('takes another D on the same connection after a C (keep-alive)', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      for (const [offset, length] of [[0, 1000], [250_000, 50_000], [5, 5]]) {
        c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset, length });
        const r = await c.readResponse();
        assert.equal(r.type, 'C');
        if (r.type === 'C') assert.deepEqual(r.body, await readRange(shared, offset, length));
      }
      assert.equal(c.isClosed, false);
      assert.equal(server.connectionCount, 1);
    });

    it('answers requests sent back to back in one write, in order', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      const sha256 = Buffer.from(shared.sha256, 'hex');
      c.send(
        Buffer.concat([
          encodeDownloadRequest({ type: 'D', contentName: 'shared.bin', sha256, offset: 10, length: 20 }),
          encodeDownloadRequest({ type: 'D', contentName: 'shared.bin', sha256, offset: 1000, length: 30 }),
        ]),
      );
      const first = await c.readResponse();
      const second = await c.readResponse();
      assert.ok(first.type === 'C' && second.type === 'C');
      assert.deepEqual(first.body, await readRange(shared, 10, 20));
      assert.deepEqual(second.body, await readRange(shared, 1000, 30));
    });

    it('answers a downloader that sends its D and half-closes, then ends the connection', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      c.socket.end(encodeDownloadRequest({ type: 'D', contentName: 'shared.bin', sha256: Buffer.from(shared.sha256, 'hex'), offset: 0, length: 0 }));
      const r = await c.readResponse();
      assert.ok(r.type === 'C' && sha256Hex(r.body) === shared.sha256);
      await c.closed;
    });

    it('serves an empty file as a C of zero bytes', async function () {
      const empty = await writeBytes(dir, 'empty.txt', Buffer.alloc(0));
      server = await serveFiles([empty]);
      const c = await connect();
      c.request({ contentName: 'empty.txt', sha256: empty.sha256, offset: 0, length: 0 });
      const r = await c.readResponse();
      assert.ok(r.type === 'C');
      assert.deepEqual(r.header, { type: 'C', size: 0, offset: 0, length: 0 });
    });

    it('reports each finished upload as an event', async function () {
      server = await serveFiles([shared]);
      const uploads: UploadRecord[] = [];
      server.on('upload', (u: UploadRecord) => uploads.push(u));
      const c = await connect();
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 7, length: 0 });
      await c.readResponse();
      await waitUntil(() => uploads.length === 1, 'the upload event');
      assert.equal(uploads[0].ok, true);
      assert.equal(uploads[0].sent, shared.size - 7);
      assert.equal(uploads[0].contentName, 'shared.bin');
    });
  });

  describe('refusing what it does not share', function () {
    it('answers an unknown content name with E NOT_SHARED and closes', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      c.request({ contentName: 'other.bin', sha256: shared.sha256, offset: 0, length: 0 });
      const r = await c.readResponse();
      assert.equal(r.type, 'E');
      if (r.type === 'E') assert.equal(r.code, 'NOT_SHARED');
      await c.closed;
    });

    it('answers a shared name with another hash with E NOT_SHARED', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      c.request({ contentName: 'shared.bin', sha256: secret.sha256, offset: 0, length: 0 });
      const r = await c.readResponse();
      assert.equal(r.type, 'E');
      if (r.type === 'E') assert.equal(r.code, 'NOT_SHARED');
    });

    it('serves only the version asked for, even when its lookup answers by name alone', async function () {
      server = new ContentServer({
        lookup: (name) => (name === 'shared.bin' ? { path: shared.path, size: shared.size, sha256: shared.sha256, dev: shared.dev, ino: shared.ino } : undefined),
      });
      await server.listen(0, '127.0.0.1');
      const c = await connect();
      c.request({ contentName: 'shared.bin', sha256: secret.sha256, offset: 0, length: 0 });
      const r = await c.readResponse();
      assert.ok(r.type === 'E' && r.code === 'NOT_SHARED', `another version was served: ${r.type}`);
    });

    it('never serves the file next to the shared one, whatever path the name spells', async function () {
      const asked: string[] = [];
      server = new ContentServer({
        lookup: (name, hash) => {
          asked.push(name);
          return name === 'shared.bin' && hash === shared.sha256 ? { path: shared.path, size: shared.size, sha256: shared.sha256, dev: shared.dev, ino: shared.ino } : undefined;
        },
      });
      await server.listen(0, '127.0.0.1');
      const names = [
        '../secret.txt',
        'secret.txt',
        secret.path,
        path.join('..', path.basename(dir), 'secret.txt'),
        'shared.bin/../secret.txt',
        'shared.bin\u0000../secret.txt',
        '..',
        '.',
        'shared.bin\\..\\secret.txt',
      ];
      for (const contentName of names) {
        for (const sha256 of [secret.sha256, shared.sha256]) {
          const c = await connect();
          c.request({ contentName, sha256, offset: 0, length: 0 });
          const r = await c.readResponse();
          assert.equal(r.type, 'E', `${JSON.stringify(contentName)} must be refused`);
          if (r.type === 'E') assert.ok(r.code === 'NOT_SHARED' || r.code === 'MALFORMED', `${contentName}: ${r.code}`);
          await c.closed;
        }
      }
      // Names that are not valid content names never even reach lookup; the one valid name is not shared.
      assert.deepEqual([...new Set(asked)], ['secret.txt']);
    });

    it('answers a range outside the content with E BAD_RANGE', async function () {
      server = await serveFiles([shared]);
      for (const [offset, length] of [[shared.size + 1, 0], [shared.size - 10, 11], [0, shared.size + 1]]) {
        const c = await connect();
        c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset, length });
        const r = await c.readResponse();
        assert.equal(r.type, 'E', `${offset}+${length}`);
        if (r.type === 'E') assert.equal(r.code, 'BAD_RANGE');
        await c.closed;
      }
    });

    it('refuses a file whose size changed since it was registered', async function () {
      server = await serveFiles([shared]);
      await fsp.appendFile(shared.path, 'grown');
      const c = await connect();
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 0, length: 10 });
      const r = await c.readResponse();
      assert.equal(r.type, 'E');
      if (r.type === 'E') {
        assert.equal(r.code, 'NOT_SHARED');
        assert.match(r.message, /changed/);
      }
    });

    it('refuses a registered file that has since been deleted', async function () {
      server = await serveFiles([shared]);
      await fsp.unlink(shared.path);
      const c = await connect();
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 0, length: 0 });
      const r = await c.readResponse();
      assert.ok(r.type === 'E' && r.code === 'NOT_SHARED');
    });

    it('answers E INTERNAL when its lookup throws, and keeps serving others', async function () {
      let broken = true;
      server = new ContentServer({
        lookup: () => {
          if (broken) throw new Error('share book exploded');
          return { path: shared.path, size: shared.size, sha256: shared.sha256, dev: shared.dev, ino: shared.ino };
        },
      });
      await server.listen(0, '127.0.0.1');
      const c = await connect();
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 0, length: 1 });
      const r = await c.readResponse();
      assert.ok(r.type === 'E' && r.code === 'INTERNAL');
      broken = false;
      const c2 = await connect();
      c2.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 0, length: 1 });
      assert.equal((await c2.readResponse()).type, 'C');
    });
  });

  describe('malformed requests', function () {
    it('answers bytes that are not a D with an error and closes', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      c.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      const r = await c.readResponse();
      assert.ok(r.type === 'E' && r.code === 'UNKNOWN_TYPE', JSON.stringify(r));
      await c.closed;
    });

    it('answers a D with a wrong version byte with E MALFORMED', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      c.send(Buffer.from([0x44, 0x01, 0x00]));
      const r = await c.readResponse();
      assert.ok(r.type === 'E' && r.code === 'MALFORMED', JSON.stringify(r));
      await c.closed;
    });

    it('answers a D whose name is not UTF-8 with E MALFORMED', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      c.send(Buffer.concat([Buffer.from([0x44, 0x81, 2, 0xc3, 0x28]), Buffer.alloc(32 + 16)]));
      const r = await c.readResponse();
      assert.ok(r.type === 'E' && r.code === 'MALFORMED', JSON.stringify(r));
      await c.closed;
    });

    it('answers a connection that ends inside a D with E MALFORMED', async function () {
      server = await serveFiles([shared]);
      const c = await connect();
      const d = encodeDownloadRequest({ type: 'D', contentName: 'shared.bin', sha256: Buffer.from(shared.sha256, 'hex'), offset: 0, length: 0 });
      c.socket.end(d.subarray(0, d.length - 3));
      const r = await c.readResponse();
      assert.ok(r.type === 'E' && r.code === 'MALFORMED', JSON.stringify(r));
      await c.closed;
    });

    it('answers a D that never completes with E MALFORMED once the connection idles', async function () {
      server = await serveFiles([shared], { idleTimeoutMs: 300 });
      const c = await connect();
      const d = encodeDownloadRequest({ type: 'D', contentName: 'shared.bin', sha256: Buffer.from(shared.sha256, 'hex'), offset: 0, length: 0 });
      c.send(d.subarray(0, 20));
      const r = await c.readResponse();
      assert.ok(r.type === 'E' && r.code === 'MALFORMED', JSON.stringify(r));
      assert.match(r.message, /incomplete/);
      await c.closed;
    });
  });

  describe('connections', function () {
    it('serves many downloads at once, each getting its own bytes', async function () {
      const big = await writeTestFile(dir, 'big.bin', 4 * 1024 * 1024);
      const n = 24;
      // All from one address, so that address may hold them all.
      server = await serveFiles([big], { maxConnectionsPerAddress: n });
      const results = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const c = await connect();
          const offset = i * 150_000;
          const length = 150_000 + i * 1000;
          c.request({ contentName: 'big.bin', sha256: big.sha256, offset, length });
          const r = await c.readResponse();
          assert.equal(r.type, 'C');
          return r.type === 'C' && r.body.equals(await readRange(big, offset, length));
        }),
      );
      assert.deepEqual(results, Array(n).fill(true));
    });

    it('holds each connection to the upload rate limit', async function () {
      const rate = 400 * 1024;
      const file = await writeTestFile(dir, 'slow.bin', 600 * 1024);
      server = await serveFiles([file], { uploadRateLimit: rate });
      const c = await connect();
      const started = performance.now();
      c.request({ contentName: 'slow.bin', sha256: file.sha256, offset: 0, length: 0 });
      const r = await c.readResponse();
      const elapsedMs = performance.now() - started;
      assert.ok(r.type === 'C' && sha256Hex(r.body) === file.sha256);
      // The bucket may start full, so only the bytes beyond one burst are bound by the rate.
      const floorMs = ((file.size - burstBytes(rate)) / rate) * 1000;
      assert.ok(elapsedMs >= floorMs * 0.95, `took ${elapsedMs.toFixed(0)} ms, the limit allows no less than ${floorMs.toFixed(0)} ms`);
    });

    it('survives a downloader that hangs up mid-stream and keeps serving others', async function () {
      const big = await writeTestFile(dir, 'big.bin', 16 * 1024 * 1024);
      server = await serveFiles([big]);
      const uploads: UploadRecord[] = [];
      server.on('upload', (u: UploadRecord) => uploads.push(u));
      const quitter = await connect();
      quitter.request({ contentName: 'big.bin', sha256: big.sha256, offset: 0, length: 0 });
      await quitter.waitForBytes(64 * 1024);
      quitter.destroy();
      await waitUntil(() => uploads.length === 1, 'the failed upload to be reported');
      assert.equal(uploads[0].ok, false);
      assert.ok(uploads[0].sent >= 64 * 1024 - 26 && uploads[0].sent < big.size, `sent ${uploads[0].sent}`);
      await waitUntil(() => server!.connectionCount === 0, 'the connection to be gone');

      const next = await connect();
      next.request({ contentName: 'big.bin', sha256: big.sha256, offset: 1_000_000, length: 100 });
      const r = await next.readResponse();
      assert.ok(r.type === 'C' && r.body.equals(await readRange(big, 1_000_000, 100)));
    });

    it('hangs up mid-stream when the file is truncated under it', async function () {
      const file = await writeTestFile(dir, 'shrinking.bin', 1024 * 1024);
      server = await serveFiles([file], { uploadRateLimit: 256 * 1024 });
      const uploads: UploadRecord[] = [];
      server.on('upload', (u: UploadRecord) => uploads.push(u));
      const c = await connect();
      c.request({ contentName: 'shrinking.bin', sha256: file.sha256, offset: 0, length: 0 });
      await c.waitForBytes(100 * 1024);
      await fsp.truncate(file.path, 200 * 1024);
      await assert.rejects(c.readResponse(), /closed/);
      await waitUntil(() => uploads.length === 1, 'the failed upload to be reported');
      assert.equal(uploads[0].ok, false);
      assert.ok(uploads[0].sent >= 100 * 1024 - 26 && uploads[0].sent <= 200 * 1024, `sent ${uploads[0].sent}`);
    });

    it('answers connections beyond maxConnections with E BUSY', async function () {
      server = await serveFiles([shared], { maxConnections: 2 });
      await connect();
      await connect();
      await waitUntil(() => server!.connectionCount === 2, 'two accepted connections');
      const third = await connect();
      const r = await third.readResponse();
      assert.ok(r.type === 'E' && r.code === 'BUSY', JSON.stringify(r));
      await third.closed;
    });

    it('closes a connection that stays idle for idleTimeoutMs', async function () {
      server = await serveFiles([shared], { idleTimeoutMs: 200 });
      const c = await connect();
      // The server's last activity (its answer) comes after this point, so the close cannot come sooner.
      const started = performance.now();
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 0, length: 10 });
      assert.equal((await c.readResponse()).type, 'C');
      await c.closed;
      assert.ok(performance.now() - started >= 180, `closed after ${(performance.now() - started).toFixed(0)} ms`);
      assert.equal(c.buffered, 0, 'an idle close sends no E');
    });

    it('close() ends every connection, even mid-transfer, and stops listening', async function () {
      const file = await writeTestFile(dir, 'slow.bin', 1024 * 1024);
      server = await serveFiles([file], { uploadRateLimit: 128 * 1024 });
      const port = server.port;
      const busy = await connect();
      const idle = await connect();
      busy.request({ contentName: 'slow.bin', sha256: file.sha256, offset: 0, length: 0 });
      await busy.waitForBytes(1024);
      await server.close();
      await Promise.all([busy.closed, idle.closed]);
      assert.equal(server.port, 0);
      const refused = net.connect(port, '127.0.0.1');
      const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNREFUSED');
    });

    it('listens dual-stack by default and takes IPv4 clients', async function () {
      server = new ContentServer({ lookup: () => ({ path: shared.path, size: shared.size, sha256: shared.sha256, dev: shared.dev, ino: shared.ino }) });
      const bound = await server.listen(0);
      assert.ok(bound > 0);
      assert.equal(bound, server.port);
      const c = await connect(bound, '127.0.0.1');
      c.request({ contentName: 'shared.bin', sha256: shared.sha256, offset: 0, length: 3 });
      assert.equal((await c.readResponse()).type, 'C');
    });

    it('rejects listening on a port already in use with ADDRESS_IN_USE', async function () {
      server = await serveFiles([shared]);
      const second = new ContentServer({ lookup: () => undefined });
      await assert.rejects(second.listen(server.port, '127.0.0.1'), (e: { code?: string }) => e.code === 'ADDRESS_IN_USE');
      await second.close();
    });
  });
});
