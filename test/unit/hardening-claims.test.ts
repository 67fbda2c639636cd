// A stranger's claims (a size, a version, a source address) cannot freeze, sway or aim a downloader: played with a hostile index on real sockets.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import { networkInterfaces } from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Peer } from '../../src/peer/peer';
import { DownloadRun } from '../../src/peer/download/run';
import { partFileName } from '../../src/peer/download/placement';
import type { Source } from '../../src/protocol/messages';
import { FakeIndex } from '../support/fake-index';
import { makeTempDir, removeDir, serveFiles, writeBytes } from '../support/peers';
import { isP2P } from '../support/p2p-error';

const MiB = 1024 * 1024;

/** A TCP listener that accepts, counts and hangs up on every connection: where a dialled source would land. */
class Recorder {
  connections = 0;
  private constructor(readonly server: net.Server) {
    server.on('connection', (socket) => {
      this.connections++;
      socket.destroy();
    });
  }
  static async listen(host: string, port = 0): Promise<Recorder> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return new Recorder(server);
  }
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** This machine's first non-loopback IPv4 address: a host that is local but not loopback. */
function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .find((i) => i.family === 'IPv4' && !i.internal)?.address;
}

/** Watches the event loop and the heap while `work` runs: the victim's view of an attack. */
async function underWatch<T>(work: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; ms: number; maxDelayMs: number; rssGrowth: number }> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  const rss0 = process.memoryUsage().rss;
  delay.enable();
  const t0 = performance.now();
  const [result] = await Promise.allSettled([work()]);
  const ms = performance.now() - t0;
  // The histogram samples on a libuv timer; a timer set now fires after it, so a stall just ended is counted.
  await new Promise((resolve) => setTimeout(resolve, 0));
  delay.disable();
  return { result, ms, maxDelayMs: delay.max / 1e6, rssGrowth: process.memoryUsage().rss - rss0 };
}

function hash(bytes: Buffer | string): Buffer {
  return createHash('sha256').update(bytes).digest();
}

describe('hardening: a stranger\'s claims', function () {
  this.timeout(30_000);
  let dir: string;
  const closers: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    dir = await makeTempDir('claims');
  });

  afterEach(async () => {
    while (closers.length) await closers.pop()!().catch(() => undefined);
    await removeDir(dir);
  });

  async function victimOf(index: FakeIndex, opts: { maxDownloadBytes?: number; listenHost?: string } = {}): Promise<{ peer: Peer; log: string[] }> {
    const log: string[] = [];
    const peer = await Peer.start({
      peerName: 'victim', index: index.address, downloadFolder: path.join(dir, 'downloads'), watchShares: false,
      shareDownloads: false, listenHost: opts.listenHost ?? '127.0.0.1', maxDownloadBytes: opts.maxDownloadBytes,
      log: (level, message) => log.push(`${level} ${message}`),
    });
    closers.push(() => peer.quit());
    return { peer, log };
  }

  async function recorder(host: string, port = 0): Promise<Recorder> {
    const r = await Recorder.listen(host, port);
    closers.push(() => r.close());
    return r;
  }

  async function hostileIndex(sources: (name: string) => Source[], host?: string): Promise<FakeIndex> {
    const index = await FakeIndex.listing(sources, host);
    closers.push(() => index.close());
    return index;
  }

  describe('an advertised size is a claim, not a plan', () => {
    const HUGE = Number.MAX_SAFE_INTEGER; // 2^53 - 1

    it('2^53-1 bytes claimed under three peer names fails at once with SIZE_LIMIT, the event loop free and memory flat', async () => {
      const source = await recorder('127.0.0.1');
      const claim = (peerName: string): Source => ({ peerName, host: '127.0.0.1', port: source.port, size: HUGE, sha256: hash('huge') });
      const index = await hostileIndex(() => [claim('mallory1'), claim('mallory2'), claim('mallory3')]);
      const { peer } = await victimOf(index);

      const seen = await underWatch(() => peer.download('huge.iso'));

      assert.equal(seen.result.status, 'rejected');
      const err = (seen.result as PromiseRejectedResult).reason;
      assert.ok(isP2P('SIZE_LIMIT', /huge\.iso.*9,007,199,254,740,991 bytes.*at most 64 GiB \(68,719,476,736 bytes\)/)(err), String(err));
      assert.ok(seen.ms < 2000, `took ${seen.ms.toFixed(0)} ms`);
      assert.ok(seen.maxDelayMs < 100, `event loop blocked for ${seen.maxDelayMs.toFixed(1)} ms`);
      assert.ok(seen.rssGrowth < 64 * MiB, `RSS grew by ${(seen.rssGrowth / MiB).toFixed(0)} MiB`);
      assert.equal(source.connections, 0, 'the claimed sources were dialled');
      assert.deepEqual(await fsp.readdir(path.join(dir, 'downloads')).catch(() => []), [], 'nothing may be written for a refused claim');
    });

    it('with the limit raised past the claim, the folder\'s free space refuses it with DISK_FULL before any connect', async () => {
      const source = await recorder('127.0.0.1');
      const index = await hostileIndex(() => [{ peerName: 'mallory', host: '127.0.0.1', port: source.port, size: HUGE, sha256: hash('huge') }]);
      const { peer } = await victimOf(index, { maxDownloadBytes: HUGE });

      await assert.rejects(peer.download('huge.iso'), isP2P('DISK_FULL', /huge\.iso.*9,007,199,254,740,991 bytes.*has only .* free/));
      assert.equal(source.connections, 0);
    });

    it('a limit given for one download (the extension\'s p2p.maxDownloadBytes) applies to that download', async () => {
      const source = await recorder('127.0.0.1');
      const index = await hostileIndex(() => [{ peerName: 'mallory', host: '127.0.0.1', port: source.port, size: 2 * MiB, sha256: hash('two') }]);
      const { peer } = await victimOf(index);

      await assert.rejects(peer.download('two.bin', { maxBytes: MiB }), isP2P('SIZE_LIMIT', /2\.0 MiB \(2,097,152 bytes\).*at most 1\.0 MiB/));
      assert.equal(source.connections, 0);
    });

    it('a run handed a 1 TiB claim carves its chunks as workers ask, so starting it costs neither time nor memory', async () => {
      // Below the free-space check, straight at the scheduler: the size is whatever the job says.
      const source = await recorder('127.0.0.1');
      const sha256 = hash('tera').toString('hex');
      const folder = path.join(dir, 'run');
      await fsp.mkdir(folder);
      const run = new DownloadRun(
        { name: 'tera.bin', sha256, size: 2 ** 40, folder, partPath: path.join(folder, partFileName('tera.bin', sha256)), sources: [{ peerName: 'mallory', host: '127.0.0.1', port: source.port }] },
        { stallTimeoutMs: 5000, connectTimeoutMs: 5000, chunkBytes: MiB, log: () => undefined },
      );

      const seen = await underWatch(() => run.execute());

      // The source hangs up: the run ends with that, having planned one chunk, not a million.
      assert.equal(seen.result.status, 'rejected');
      assert.ok(isP2P('SOURCE_GONE')((seen.result as PromiseRejectedResult).reason), String((seen.result as PromiseRejectedResult).reason));
      assert.equal(source.connections, 1);
      assert.ok(seen.ms < 1000, `took ${seen.ms.toFixed(0)} ms`);
      assert.ok(seen.maxDelayMs < 100, `event loop blocked for ${seen.maxDelayMs.toFixed(1)} ms`);
      assert.ok(seen.rssGrowth < 64 * MiB, `RSS grew by ${(seen.rssGrowth / MiB).toFixed(0)} MiB`);
    });
  });

  describe('versions are not decided by made-up names', () => {
    it('three names at one host are one vote; the victim is asked to choose, and a hash prefix pins the honest file', async () => {
      const honestBytes = Buffer.from('the report as its author wrote it');
      const forgedBytes = Buffer.from('the report as mallory would like it read');
      await Promise.all(['honest', 'forged'].map((d) => fsp.mkdir(path.join(dir, d))));
      const honestFile = await writeBytes(path.join(dir, 'honest'), 'report.pdf', honestBytes);
      const forgedFile = await writeBytes(path.join(dir, 'forged'), 'report.pdf', forgedBytes);
      const honest = await serveFiles([honestFile], {}, '127.0.0.2');
      const forged = await serveFiles([forgedFile], {}, '127.0.0.1');
      closers.push(() => honest.close(), () => forged.close());
      const forgedAt = (peerName: string): Source => ({ peerName, host: '127.0.0.1', port: forged.port, size: forgedBytes.length, sha256: hash(forgedBytes) });
      const index = await hostileIndex(() => [
        forgedAt('mallory1'), forgedAt('mallory2'), forgedAt('mallory3'),
        { peerName: 'author', host: '127.0.0.2', port: honest.port, size: honestBytes.length, sha256: hash(honestBytes) },
      ]);
      const { peer } = await victimOf(index);
      const honestHex = hash(honestBytes).toString('hex');
      const forgedHex = hash(forgedBytes).toString('hex');

      await assert.rejects(
        peer.download('report.pdf'),
        isP2P('VERSIONS_DIFFER', new RegExp(`2 versions: .*${forgedHex.slice(0, 12)} \\(\\d+ B, 1 host\\).*${honestHex.slice(0, 12)} \\(\\d+ B, 1 host\\)|2 versions: .*${honestHex.slice(0, 12)} \\(\\d+ B, 1 host\\).*${forgedHex.slice(0, 12)} \\(\\d+ B, 1 host\\)`)),
      );

      const pinned = await peer.download('report.pdf', { sha256: honestHex.slice(0, 8) });
      assert.deepEqual(pinned.sources, ['author']);
      assert.deepEqual(await fsp.readFile(pinned.path), honestBytes);
    });
  });

  describe('sources are checked before any connect', () => {
    it('unspecified, multicast, broadcast and this peer\'s own content server are never dialled, and the error says why', async () => {
      const trap = await recorder('::');
      const local = nonLoopbackAddress();
      const { peer, log } = await victimOf(await hostileIndex(() => lies));
      // This peer's own port on another of its addresses: dialled, it would land in the second trap.
      const ownTrap = local ? await recorder(local, peer.listenPort) : undefined;
      const at = (peerName: string, host: string, port = trap.port): Source => ({ peerName, host, port, size: 1000, sha256: hash('x') });
      const lies: Source[] = [
        at('zero', '0.0.0.0'), at('zero6', '::'), at('mapped', '::ffff:0:0'), at('multi', '224.0.0.1'), at('multi6', 'ff02::1'),
        at('bcast', '255.255.255.255'), at('self', '127.0.0.1', peer.listenPort), ...(local ? [at('self2', local, peer.listenPort)] : []),
      ];

      await assert.rejects(peer.download('bait.bin'), (err: Error) => {
        assert.ok(isP2P('NO_SOURCES', /no source of "bait\.bin" may be contacted/)(err), err.message);
        for (const why of [
          /0\.0\.0\.0:\d+ is an unspecified address/, /\[::\]:\d+ is an unspecified address/, /224\.0\.0\.1:\d+ is a multicast address/,
          /\[ff02::1\]:\d+ is a multicast address/, /255\.255\.255\.255:\d+ is the broadcast address/, /127\.0\.0\.1:\d+ is this peer's own content server/,
        ]) assert.match(err.message, why);
        return true;
      });
      assert.equal(trap.connections, 0, 'a listed address reached the trap');
      assert.equal(ownTrap?.connections ?? 0, 0, 'the downloader dialled its own content server port');
      assert.equal(log.filter((l) => l.includes('skipping source')).length, lies.length);
    });

    it('loopback sources are refused when the index server is not itself on loopback', async function () {
      const local = nonLoopbackAddress();
      if (!local) this.skip();
      const trap = await recorder('127.0.0.1');
      const index = await hostileIndex(() => [{ peerName: 'scanner', host: '127.0.0.1', port: trap.port, size: 10, sha256: hash('x') }], local);
      const { peer } = await victimOf(index);

      await assert.rejects(peer.download('probe.bin'), isP2P('NO_SOURCES', /127\.0\.0\.1:\d+ is a loopback address, but the index server .* is not on this machine/));
      assert.equal(trap.connections, 0);
    });
  });
});
