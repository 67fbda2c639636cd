// Downloader against real content servers on 127.0.0.1: multi-source, resume, failures, safe placement, and a big-file run.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ContentServer, ContentServerOptions, UploadRecord } from '../../src/peer/content-server';
import { DownloadJob, DownloadSource, Downloader, DownloaderOptions, FetchResult } from '../../src/peer/download/downloader';
import { candidateName, partFileName } from '../../src/peer/download/placement';
import type { DownloadProgress } from '../../src/peer/api';
import { P2PError } from '../../src/protocol/errors';
import {
  headerFor,
  listDir,
  makeTempDir,
  RawSource,
  RawSourceBehaviour,
  readRange,
  removeDir,
  serveFiles,
  sha256OfFile,
  TestFile,
  waitUntil,
  writeBytes,
  writeTestFile,
} from '../support/peers';

const KiB = 1024;
const MiB = 1024 * 1024;

function sourceOf(server: ContentServer | RawSource, peerName: string): DownloadSource {
  return { peerName, host: '127.0.0.1', port: server.port };
}

/** Bytes each server sent, from its 'upload' events. */
function countUploads(server: ContentServer): { bytes: number; records: UploadRecord[] } {
  const tally = { bytes: 0, records: [] as UploadRecord[] };
  server.on('upload', (u: UploadRecord) => {
    tally.records.push(u);
    tally.bytes += u.sent;
  });
  return tally;
}

function isP2P(code: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof P2PError, `expected a P2PError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

describe('Downloader', function () {
  let dir: string;
  let folder: string;
  let file: TestFile;
  const servers: (ContentServer | RawSource)[] = [];
  const logs: string[] = [];

  async function serve(files: TestFile[], opts: Partial<ContentServerOptions> = {}): Promise<ContentServer> {
    const s = await serveFiles(files, opts);
    servers.push(s);
    return s;
  }

  async function raw(f: TestFile, behave: RawSourceBehaviour): Promise<RawSource> {
    const s = await RawSource.start(f, behave);
    servers.push(s);
    return s;
  }

  function downloader(opts: DownloaderOptions = {}): Downloader {
    return new Downloader({ log: (level, message) => logs.push(`${level}: ${message}`), ...opts });
  }

  function job(f: TestFile, sources: DownloadSource[], extra: Partial<DownloadJob> = {}): DownloadJob {
    return { contentName: f.name, sha256: f.sha256, size: f.size, sources, folder, ...extra };
  }

  beforeEach(async function () {
    dir = await makeTempDir('downloader');
    folder = path.join(dir, 'downloads');
    await fsp.mkdir(path.join(dir, 'shared'));
    file = await writeTestFile(path.join(dir, 'shared'), 'movie.bin', 3 * MiB + 12_345);
    logs.length = 0;
  });

  afterEach(async function () {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await removeDir(dir);
  });

  describe('from one source', function () {
    it('saves identical bytes under the content name and leaves no helper files', async function () {
      const alice = await serve([file]);
      const result = await downloader().fetch(job(file, [sourceOf(alice, 'alice')]));
      assert.equal(result.path, path.join(folder, 'movie.bin'));
      assert.deepEqual(result.sources, ['alice']);
      assert.equal(result.resumedFrom, 0);
      assert.equal(result.reused, false);
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.deepEqual(await listDir(folder), ['movie.bin']);
    });

    it('reports progress a few times a second, ending with everything received', async function () {
      const alice = await serve([file], { uploadRateLimit: 3 * MiB });
      const seen: DownloadProgress[] = [];
      const started = performance.now();
      await downloader({ chunkBytes: 512 * KiB }).fetch(job(file, [sourceOf(alice, 'alice')], { onProgress: (p) => seen.push(p) }));
      const elapsedMs = performance.now() - started;
      assert.ok(seen.length >= 2, `${seen.length} progress calls`);
      assert.ok(seen.length <= elapsedMs / 250 + 3, `${seen.length} progress calls in ${elapsedMs.toFixed(0)} ms`);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i].received >= seen[i - 1].received);
      const last = seen[seen.length - 1];
      assert.deepEqual([last.contentName, last.received, last.total], ['movie.bin', file.size, file.size]);
      assert.equal(last.sources, 1, 'the last report names how many sources the file came from');
      assert.ok(seen.some((p) => p.sources === 1 && p.bytesPerSecond > 0), 'a progress report while receiving');
    });

    it('downloads zero-byte content without asking any source', async function () {
      const empty = await writeBytes(path.join(dir, 'shared'), 'empty.txt', Buffer.alloc(0));
      const alice = await serve([empty]);
      const uploads = countUploads(alice);
      const result = await downloader().fetch(job(empty, [sourceOf(alice, 'alice')]));
      assert.equal((await fsp.stat(result.path)).size, 0);
      assert.deepEqual(result.sources, []);
      assert.equal(uploads.records.length, 0);
      assert.deepEqual(await listDir(folder), ['empty.txt']);
    });

    it('fails with the source\'s own error when the only source refuses', async function () {
      const alice = await serve([]);
      await assert.rejects(downloader().fetch(job(file, [sourceOf(alice, 'alice')])), isP2P('NOT_SHARED', /alice/));
    });

    it('fails with UNREACHABLE when the only source refuses the connection', async function () {
      const closed = await serve([file]);
      const port = closed.port;
      await closed.close();
      await assert.rejects(downloader().fetch(job(file, [{ peerName: 'gone', host: '127.0.0.1', port }])), isP2P('UNREACHABLE', /gone/));
    });
  });

  describe('from several sources', function () {
    it('shares the work among three sources and gets the bytes right', async function () {
      const peers = await Promise.all([1, 2, 3].map(() => serve([file], { uploadRateLimit: 2 * MiB })));
      const tallies = peers.map(countUploads);
      const result = await downloader({ chunkBytes: 256 * KiB }).fetch(job(file, peers.map((p, i) => sourceOf(p, `peer${i + 1}`))));
      assert.deepEqual([...result.sources].sort(), ['peer1', 'peer2', 'peer3']);
      assert.equal(await sha256OfFile(result.path), file.sha256);
      for (const t of tallies) assert.ok(t.bytes > 0);
    });

    it('is about N times faster with N rate-limited sources', async function () {
      const rate = 1 * MiB;
      const peers = await Promise.all([1, 2, 3].map(() => serve([file], { uploadRateLimit: rate })));
      const started = performance.now();
      const result = await downloader({ chunkBytes: 256 * KiB }).fetch(job(file, peers.map((p, i) => sourceOf(p, `peer${i + 1}`))));
      const elapsedMs = performance.now() - started;
      const oneSourceMs = (file.size / rate) * 1000;
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.ok(elapsedMs < oneSourceMs * 0.75, `took ${elapsedMs.toFixed(0)} ms; one source alone needs ~${oneSourceMs.toFixed(0)} ms`);
    });

    it('lets the others finish when one source dies mid-chunk', async function () {
      const healthy = await Promise.all([1, 2].map(() => serve([file], { uploadRateLimit: 4 * MiB })));
      const dying = await raw(file, async (req, socket, f) => {
        const body = await readRange(f, req.offset, req.length);
        socket.write(headerFor(req, f.size));
        socket.end(body.subarray(0, body.length >> 1));
      });
      const result = await downloader({ chunkBytes: 256 * KiB }).fetch(
        job(file, [sourceOf(dying, 'dying'), sourceOf(healthy[0], 'h1'), sourceOf(healthy[1], 'h2')]),
      );
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.ok(dying.requests.length >= 1);
      assert.ok(logs.some((l) => /dying.*dropped/.test(l)), logs.join('\n'));
      assert.ok(result.sources.includes('h1') && result.sources.includes('h2'));
    });

    it('survives several sources failing at different points, with small chunks', async function () {
      const healthy = await Promise.all([1, 2].map(() => serve([file], { uploadRateLimit: 4 * MiB })));
      const dyingAfter = (cutAt: number) => {
        let sent = 0;
        return raw(file, async (req, socket, f) => {
          const body = await readRange(f, req.offset, req.length);
          socket.write(headerFor(req, f.size));
          if (sent + body.length <= cutAt) {
            sent += body.length;
            socket.write(body);
          } else {
            socket.end(body.subarray(0, Math.max(0, cutAt - sent)));
            sent = cutAt;
          }
        });
      };
      const dying = await Promise.all([10_000, 200_000, 700_000].map(dyingAfter));
      const sources = [
        sourceOf(dying[0], 'd1'),
        sourceOf(healthy[0], 'h1'),
        sourceOf(dying[1], 'd2'),
        sourceOf(healthy[1], 'h2'),
        sourceOf(dying[2], 'd3'),
      ];
      const result = await downloader({ chunkBytes: 64 * KiB }).fetch(job(file, sources));
      assert.equal(await sha256OfFile(result.path), file.sha256);
      for (const d of ['d1', 'd2', 'd3']) assert.ok(logs.some((l) => l.includes(`source ${d} `) && l.includes('dropped')), `${d} dropped`);
      assert.deepEqual(await listDir(folder), ['movie.bin']);
    });

    it('lets the others finish when a real content server is shut down mid-download', async function () {
      const peers = await Promise.all([1, 2, 3].map(() => serve([file], { uploadRateLimit: 1 * MiB })));
      let killed = false;
      const result = await downloader({ chunkBytes: 128 * KiB }).fetch(
        job(
          file,
          peers.map((p, i) => sourceOf(p, `peer${i + 1}`)),
          {
            onProgress: (p) => {
              if (!killed && p.received > file.size / 4) {
                killed = true;
                void peers[2].close();
              }
            },
          },
        ),
      );
      assert.ok(killed);
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.ok(logs.some((l) => /peer3.*dropped/.test(l)), logs.join('\n'));
    });

    it('drops a source that answers with the wrong range, and still finishes', async function () {
      const honest = await serve([file]);
      const liar = await raw(file, (req, socket, f) => {
        socket.write(headerFor({ ...req, offset: req.offset === 0 ? 1 : 0 }, f.size));
      });
      const result = await downloader({ chunkBytes: 256 * KiB }).fetch(job(file, [sourceOf(liar, 'liar'), sourceOf(honest, 'honest')]));
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.deepEqual(result.sources, ['honest']);
      assert.ok(logs.some((l) => /liar.*dropped.*other side broke the protocol/i.test(l)), logs.join('\n'));
    });

    it('does not wait for a slow source: an idle one takes over its last chunk (endgame)', async function () {
      const slowRate = 64 * KiB;
      const f = await writeTestFile(path.join(dir, 'shared'), 'small.bin', 1 * MiB);
      const slow = await serve([f], { uploadRateLimit: slowRate });
      const fast = await serve([f]);
      const started = performance.now();
      const result = await downloader({ chunkBytes: 256 * KiB }).fetch(job(f, [sourceOf(slow, 'slow'), sourceOf(fast, 'fast')]));
      const elapsedMs = performance.now() - started;
      assert.equal(await sha256OfFile(result.path), f.sha256);
      // Alone, the slow source would need ~4 s for its one chunk.
      assert.ok(elapsedMs < ((256 * KiB) / slowRate) * 1000 * 0.6, `took ${elapsedMs.toFixed(0)} ms`);
      assert.ok(result.sources.includes('fast'));
    });

    it('fails with NO_SOURCES naming each source\'s reason when all of them fail', async function () {
      const refusing = await serve([]);
      const gone = await serve([file]);
      const gonePort = gone.port;
      await gone.close();
      await assert.rejects(
        downloader().fetch(job(file, [sourceOf(refusing, 'refuser'), { peerName: 'ghost', host: '127.0.0.1', port: gonePort }])),
        isP2P('NO_SOURCES', /refuser.*not shared.*ghost.*connect|ghost.*connect.*refuser.*not shared/is),
      );
      const left = await listDir(folder);
      assert.ok(!left.includes('movie.bin'));
    });
  });

  describe('resume', function () {
    it('keeps a .part when the only source dies, and a retry fetches only what is missing', async function () {
      const cutAt = 1 * MiB + 100_000;
      let sent = 0;
      const dying = await raw(file, async (req, socket, f) => {
        const body = await readRange(f, req.offset, req.length);
        socket.write(headerFor(req, f.size));
        if (sent + body.length <= cutAt) {
          sent += body.length;
          socket.write(body);
        } else {
          socket.end(body.subarray(0, cutAt - sent));
          sent = cutAt;
        }
      });
      await assert.rejects(downloader({ chunkBytes: 256 * KiB }).fetch(job(file, [sourceOf(dying, 'dying')])), isP2P('SOURCE_GONE', /dying/));
      const part = partFileName(file.name, file.sha256);
      assert.deepEqual(await listDir(folder), [part, `${part}.json`]);

      const healthy = await serve([file]);
      const uploads = countUploads(healthy);
      const result = await downloader({ chunkBytes: 256 * KiB }).fetch(job(file, [sourceOf(healthy, 'healthy')]));
      assert.ok(result.resumedFrom > 0 && result.resumedFrom <= cutAt, `resumedFrom ${result.resumedFrom}`);
      assert.equal(uploads.bytes, file.size - result.resumedFrom, 'only the missing bytes are fetched again');
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.deepEqual(await listDir(folder), ['movie.bin']);
    });

    it('keeps the .part on abort (CANCELLED), then resumes from it', async function () {
      const slow = await serve([file], { uploadRateLimit: 1 * MiB });
      const ctl = new AbortController();
      await assert.rejects(
        downloader({ chunkBytes: 256 * KiB }).fetch(
          job(file, [sourceOf(slow, 'slow')], {
            signal: ctl.signal,
            onProgress: (p) => {
              if (p.received > 512 * KiB) ctl.abort();
            },
          }),
        ),
        isP2P('CANCELLED'),
      );
      const part = partFileName(file.name, file.sha256);
      assert.deepEqual(await listDir(folder), [part, `${part}.json`]);
      await waitUntil(() => slow.connectionCount === 0, 'the aborted connection to close');

      const fast = await serve([file]);
      const uploads = countUploads(fast);
      const result = await downloader({ chunkBytes: 256 * KiB }).fetch(job(file, [sourceOf(fast, 'fast')]));
      assert.ok(result.resumedFrom > 256 * KiB, `resumedFrom ${result.resumedFrom}`);
      assert.equal(uploads.bytes, file.size - result.resumedFrom);
      assert.equal(await sha256OfFile(result.path), file.sha256);
    });

    it('rejects at once, touching nothing, when the signal is already aborted', async function () {
      const alice = await serve([file]);
      await assert.rejects(downloader().fetch(job(file, [sourceOf(alice, 'alice')], { signal: AbortSignal.abort() })), isP2P('CANCELLED'));
      await assert.rejects(fsp.stat(folder), /ENOENT/);
    });

    it('starts afresh when the sidecar is unreadable', async function () {
      await fsp.mkdir(folder);
      const part = path.join(folder, partFileName(file.name, file.sha256));
      await fsp.writeFile(part, Buffer.alloc(2 * MiB, 0x55));
      await fsp.writeFile(`${part}.json`, '{"version":1, "sha256": "nonsense"');
      const alice = await serve([file]);
      const result = await downloader().fetch(job(file, [sourceOf(alice, 'alice')]));
      assert.equal(result.resumedFrom, 0);
      assert.equal(await sha256OfFile(result.path), file.sha256);
    });

    it('does not follow a symlink planted in place of the .part file', async function () {
      await fsp.mkdir(folder);
      const victim = await writeBytes(dir, 'victim.txt', Buffer.from('do not overwrite me'));
      const part = path.join(folder, partFileName(file.name, file.sha256));
      await fsp.symlink(victim.path, part);
      await fsp.writeFile(`${part}.json`, JSON.stringify({ version: 1, contentName: file.name, sha256: file.sha256, size: file.size, ranges: [[0, 5]] }));
      const alice = await serve([file]);
      const result = await downloader().fetch(job(file, [sourceOf(alice, 'alice')]));
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.equal(await fsp.readFile(victim.path, 'utf8'), 'do not overwrite me');
    });

    it('refuses a second concurrent download of the same content into the same folder', async function () {
      const slow = await serve([file], { uploadRateLimit: 4 * MiB });
      const d = downloader();
      const first = d.fetch(job(file, [sourceOf(slow, 'slow')]));
      await waitUntil(async () => (await listDir(folder).catch(() => [])).length > 0, 'the first download to start');
      await assert.rejects(d.fetch(job(file, [sourceOf(slow, 'slow')])), isP2P('BUSY'));
      assert.equal(await sha256OfFile((await first).path), file.sha256);
    });
  });

  describe('bad sources', function () {
    it('rejects content that does not match the hash: HASH_MISMATCH, no file, no .part', async function () {
      const flipper = await raw(file, async (req, socket, f) => {
        const body = await readRange(f, req.offset, req.length);
        if (req.offset <= 1000 && 1000 < req.offset + body.length) body[1000 - req.offset] ^= 0x01;
        socket.write(headerFor(req, f.size));
        socket.write(body);
      });
      await assert.rejects(downloader({ chunkBytes: 512 * KiB }).fetch(job(file, [sourceOf(flipper, 'flipper')])), isP2P('HASH_MISMATCH'));
      assert.deepEqual(await listDir(folder), []);
    });

    it('drops a source that sends a header and then nothing: STALLED', async function () {
      const staller = await raw(file, (req, socket, f) => {
        socket.write(headerFor(req, f.size));
      });
      const started = performance.now();
      await assert.rejects(downloader({ stallTimeoutMs: 300 }).fetch(job(file, [sourceOf(staller, 'staller')])), isP2P('STALLED', /staller/));
      assert.ok(performance.now() - started >= 250);
      // Not a byte arrived: nothing to resume, so no empty .part and .part.json are left behind.
      assert.deepEqual(await listDir(folder), []);
    });

    it('drops a source that sends more bytes than it announced, and keeps none of them', async function () {
      const honest = await serve([file]);
      const chatty = await raw(file, async (req, socket, f) => {
        const body = await readRange(f, req.offset, req.length);
        socket.write(Buffer.concat([headerFor(req, f.size), body, Buffer.from('extra')]));
      });
      const result = await downloader({ chunkBytes: 256 * KiB }).fetch(job(file, [sourceOf(chatty, 'chatty'), sourceOf(honest, 'honest')]));
      assert.equal((await fsp.stat(result.path)).size, file.size);
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.ok(logs.some((l) => /chatty.*dropped.*other side broke the protocol/i.test(l)), logs.join('\n'));
    });
  });

  describe('where the file goes', function () {
    it('saves as "name (1).ext" when another file holds the name, leaving it untouched', async function () {
      const f = await writeBytes(path.join(dir, 'shared'), 'report.txt', Buffer.from('the peer version'));
      await fsp.mkdir(folder);
      await fsp.writeFile(path.join(folder, 'report.txt'), 'my own notes');
      const alice = await serve([f]);
      const result = await downloader().fetch(job(f, [sourceOf(alice, 'alice')]));
      assert.equal(result.path, path.join(folder, 'report (1).txt'));
      assert.equal(await fsp.readFile(result.path, 'utf8'), 'the peer version');
      assert.equal(await fsp.readFile(path.join(folder, 'report.txt'), 'utf8'), 'my own notes');
    });

    it('never replaces a file that appears under the final name while downloading', async function () {
      const alice = await serve([file], { uploadRateLimit: 3 * MiB });
      let planted = false;
      const result = await downloader({ chunkBytes: 256 * KiB }).fetch(
        job(file, [sourceOf(alice, 'alice')], {
          onProgress: (p) => {
            if (!planted && p.received > 0 && p.received < p.total) {
              planted = true;
              writeFileSync(path.join(folder, 'movie.bin'), 'written by another program meanwhile');
            }
          },
        }),
      );
      assert.ok(planted);
      assert.equal(result.path, path.join(folder, 'movie (1).bin'));
      assert.equal(await sha256OfFile(result.path), file.sha256);
      assert.equal(await fsp.readFile(path.join(folder, 'movie.bin'), 'utf8'), 'written by another program meanwhile');
    });

    it('reuses a file that already holds identical content, writing nothing', async function () {
      await fsp.mkdir(folder);
      const existing = path.join(folder, file.name);
      await fsp.copyFile(file.path, existing);
      const before = await fsp.stat(existing);
      const alice = await serve([file]);
      const uploads = countUploads(alice);
      const result = await downloader().fetch(job(file, [sourceOf(alice, 'alice')]));
      assert.deepEqual(result, { path: existing, sources: [], resumedFrom: 0, reused: true, pieceChecked: true, refused: [] });
      assert.equal(uploads.records.length, 0);
      assert.equal((await fsp.stat(existing)).mtimeMs, before.mtimeMs);
      assert.deepEqual(await listDir(folder), [file.name]);
    });

    it('finds identical content already saved as "name (1).ext"', async function () {
      await fsp.mkdir(folder);
      await fsp.writeFile(path.join(folder, file.name), 'something else');
      await fsp.copyFile(file.path, path.join(folder, candidateName(file.name, 1)));
      const alice = await serve([file]);
      const result: FetchResult = await downloader().fetch(job(file, [sourceOf(alice, 'alice')]));
      assert.equal(result.reused, true);
      assert.equal(result.path, path.join(folder, 'movie (1).bin'));
    });

    for (const bad of ['../evil', 'a/b', '..', 'x\\..\\y', '/etc/passwd']) {
      it(`refuses the content name ${JSON.stringify(bad)} with BAD_NAME and writes nothing`, async function () {
        const alice = await serve([file]);
        const before = await listDir(dir);
        await assert.rejects(downloader().fetch(job(file, [sourceOf(alice, 'alice')], { contentName: bad })), isP2P('BAD_NAME'));
        assert.deepEqual(await listDir(dir), before);
      });
    }

    it('names copies "name (n).ext" within 255 bytes', function () {
      assert.equal(candidateName('a.txt', 2), 'a (2).txt');
      assert.equal(candidateName('backup.tar.gz', 1), 'backup (1).tar.gz');
      assert.equal(candidateName('.bashrc', 1), '.bashrc (1)');
      const long = `${'é'.repeat(125)}.txt`;
      const c = candidateName(long, 12);
      assert.ok(Buffer.byteLength(c) <= 255 && c.endsWith(' (12).txt'), c);
      assert.ok(Buffer.byteLength(`${partFileName('x'.repeat(255), 'ab'.repeat(32))}.json.12345678.tmp`) <= 255);
    });
  });

  describe('cleanup', function () {
    it('leaves no file descriptor or socket open after success, failure and abort', async function () {
      if (process.platform !== 'linux') this.skip();
      const openFds = () => fsp.readdir('/proc/self/fd').then((l) => l.length);
      const alice = await serve([file]);
      // Warm up once so lazily opened process-wide descriptors are not counted.
      await downloader().fetch(job(file, [sourceOf(alice, 'alice')], { folder: path.join(dir, 'warm-up') }));
      const before = await openFds();

      await downloader().fetch(job(file, [sourceOf(alice, 'alice')], { folder: path.join(dir, 'ok') }));
      const flipper = await raw(file, async (req, socket, f) => {
        const body = await readRange(f, req.offset, req.length);
        body[0] ^= 0xff;
        socket.write(headerFor(req, f.size));
        socket.write(body);
      });
      await assert.rejects(downloader().fetch(job(file, [sourceOf(flipper, 'flipper')], { folder: path.join(dir, 'bad') })), isP2P('HASH_MISMATCH'));
      const staller = await raw(file, (req, socket, f) => void socket.write(headerFor(req, f.size)));
      const gone = await serveFiles([file]);
      const closedPort = gone.port;
      await gone.close();
      await assert.rejects(
        downloader({ stallTimeoutMs: 200 }).fetch(
          job(file, [sourceOf(staller, 'staller'), { peerName: 'nobody', host: '127.0.0.1', port: closedPort }], { folder: path.join(dir, 'stall') }),
        ),
        isP2P('NO_SOURCES'),
      );
      const ctl = new AbortController();
      const slow = await serve([file], { uploadRateLimit: 1 * MiB });
      await assert.rejects(
        downloader().fetch(job(file, [sourceOf(slow, 'slow')], { folder: path.join(dir, 'abort'), signal: ctl.signal, onProgress: () => ctl.abort() })),
        isP2P('CANCELLED'),
      );
      await Promise.all(servers.splice(1).map((s) => s.close()));
      await waitUntil(async () => (await openFds()) <= before, `descriptors back to ${before}`, 5_000);
    });
  });

  describe('a 200 MiB file', function () {
    this.timeout(60_000);

    it('arrives with the same SHA-256 while memory stays bounded (and compares with a raw TCP pipe)', async function () {
      const big = await writeTestFile(path.join(dir, 'shared'), 'big.bin', 200 * MiB);
      const baseline = await rawPipeWithHash(big);
      assert.equal(baseline.sha256, big.sha256);

      const alice = await serve([big]);
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
      const started = performance.now();
      let result: FetchResult;
      try {
        result = await downloader().fetch(job(big, [sourceOf(alice, 'alice')]));
      } finally {
        clearInterval(sampler);
      }
      const seconds = (performance.now() - started) / 1000;
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      const growthMiB = (rssPeak - rssBefore) / MiB;
      const mbps = big.size / MiB / seconds;
      const report =
        `200 MiB: downloader ${mbps.toFixed(0)} MiB/s, raw pipe + sha256 ${baseline.mibPerSecond.toFixed(0)} MiB/s ` +
        `(${((mbps / baseline.mibPerSecond) * 100).toFixed(0)}%), RSS growth ${growthMiB.toFixed(1)} MiB`;
      console.log(`      ${report}`);
      assert.equal(await sha256OfFile(result.path), big.sha256);
      assert.ok(growthMiB < 100, report);
    });
  });
});

/** Baseline: the same bytes over a plain net pipe (file stream to socket), hashed on arrival, in this process. */
async function rawPipeWithHash(f: TestFile): Promise<{ sha256: string; mibPerSecond: number }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    createReadStream(f.path, { highWaterMark: 512 * KiB }).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const started = performance.now();
    const hash = createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      c.on('data', (d) => hash.update(d));
      c.on('end', resolve);
      c.on('error', reject);
    });
    const seconds = (performance.now() - started) / 1000;
    return { sha256: hash.digest('hex'), mibPerSecond: f.size / MiB / seconds };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
