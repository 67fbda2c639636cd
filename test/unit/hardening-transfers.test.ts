// Interrupted transfers with real processes: a source SIGKILLed mid-download, the resume from another source, a source that lies.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { partFileName } from '../../src/peer/download/placement';
import { CliPeer, IndexServerProcess, makeTempDir, removeTempDir, type CliJsonEvent } from '../support/cli';
import { UdpProbe } from '../support/index-server';
import { RawSource, TestFile, headerFor, readRange, sha256OfFile, writeTestFile } from '../support/peers';

const MiB = 1024 * 1024;

describe('hardening: interrupted transfers between real processes', function () {
  this.timeout(120_000);

  let server: IndexServerProcess;
  let root: string;
  let big: TestFile;
  const peers: CliPeer[] = [];
  const rawSources: RawSource[] = [];
  const probes: UdpProbe[] = [];

  async function peer(name: string, cwd: string, args: string[] = []): Promise<CliPeer> {
    const p = await CliPeer.start({ index: server.address, name, cwd, args });
    peers.push(p);
    return p;
  }

  /** Registers a hand-made source at the real index under `peerName`, the way any peer registers: an R from its IP. */
  async function registerRawSource(peerName: string, file: TestFile, source: RawSource): Promise<void> {
    const probe = await UdpProbe.open({ host: server.host, port: server.port });
    probes.push(probe);
    const cookie = await probe.handshake();
    const reply = await probe.ask({
      type: 'R', requestId: probe.id(), cookie, secret: randomBytes(32), tcpPort: source.port, size: file.size,
      sha256: Buffer.from(file.sha256, 'hex'), peerName, contentName: file.name,
    });
    assert.equal(reply.type, 'A', JSON.stringify(reply));
  }

  /** The event that ends a D: downloaded or an error (progress and state events pass by). */
  function endOfDownload(p: CliPeer, progress: CliJsonEvent[] = []): Promise<CliJsonEvent> {
    return p.next((e) => {
      if (e.event === 'progress') progress.push(e);
      return e.event === 'downloaded' || (e.event === 'error' && e.command === 'D');
    });
  }

  before(async function () {
    root = makeTempDir('hardening-transfers');
    for (const d of ['src1', 'src2', 'raw']) fs.mkdirSync(path.join(root, d));
    big = await writeTestFile(path.join(root, 'src1'), 'big.bin', 64 * MiB);
    fs.copyFileSync(big.path, path.join(root, 'src2', 'big.bin'));
    server = await IndexServerProcess.start();
  });

  after(async function () {
    await Promise.all(peers.splice(0).map((p) => p.stop()));
    await Promise.all(rawSources.splice(0).map((s) => s.close()));
    await Promise.all(probes.splice(0).map((p) => p.close()));
    await server?.stop();
    removeTempDir(root);
  });

  it('keeps a .part and reports SOURCE_GONE when the source is SIGKILLed, then resumes from another source to identical bytes', async function () {
    // 4 MiB/s: the 64 MiB transfer takes 16 s, so the kill lands mid-way whatever the machine's speed.
    const src1 = await peer('Src1', path.join(root, 'src1'), ['--upload-limit', '4M']);
    assert.equal((await src1.run('R big.bin')).event, 'registered');
    const dl = await peer('Dl', root);

    dl.send('D big.bin from Src1');
    const before: CliJsonEvent[] = [];
    const arriving = await dl.next((e) => e.event === 'progress' && (e.received as number) >= 1 * MiB);
    before.push(arriving);
    await src1.kill('SIGKILL');
    const failed = await endOfDownload(dl, before);
    assert.equal(failed.event, 'error', JSON.stringify(failed));
    assert.ok(['SOURCE_GONE', 'NO_SOURCES'].includes(failed.code as string), JSON.stringify(failed));
    assert.match(String(failed.message), /Src1/, 'the error names the source');

    const part = partFileName('big.bin', big.sha256);
    const left = fs.readdirSync(dl.dir).sort();
    assert.deepEqual(left, [part, `${part}.json`], 'a .part and its progress record, nothing under the final name');
    const kept = (JSON.parse(fs.readFileSync(path.join(dl.dir, `${part}.json`), 'utf8')) as { ranges: [number, number][] }).ranges;
    const keptBytes = kept.reduce((n, [a, b]) => n + (b - a), 0);
    const lastSeen = Math.max(...before.map((e) => e.received as number));
    assert.ok(keptBytes >= lastSeen && keptBytes < big.size, `${keptBytes} bytes kept after ${lastSeen} were reported`);

    // Another peer with the same content; the dead one is still listed (its lease has not run out).
    const src2 = await peer('Src2', path.join(root, 'src2'));
    assert.equal((await src2.run('R big.bin')).event, 'registered');
    dl.send('D big.bin');
    const done = await endOfDownload(dl);
    assert.equal(done.event, 'downloaded', JSON.stringify(done));
    console.log(`      kill: ${failed.code as string} "${failed.message as string}"; ${keptBytes} of ${big.size} bytes kept; the retry resumed from ${done.resumedFrom as number}`);
    assert.equal(done.resumedFrom, keptBytes, 'the retry starts where the .part ends');
    assert.deepEqual(done.sources, ['Src2']);
    assert.equal(done.sha256, big.sha256);
    assert.equal(await sha256OfFile(path.join(dl.dir, 'big.bin')), big.sha256, 'identical bytes');
    assert.deepEqual(fs.readdirSync(dl.dir), ['big.bin'], 'the .part is gone');
  });

  it('ends in HASH_MISMATCH with nothing under the final name when a source sends wrong bytes', async function () {
    const small = await writeTestFile(path.join(root, 'raw'), 'small.bin', 300_000);
    const liar = await RawSource.start(small, async (req, socket, f) => {
      const body = await readRange(f, req.offset, req.length);
      body[body.length >> 1] ^= 0x40;
      socket.write(headerFor(req, f.size));
      socket.write(body);
    });
    rawSources.push(liar);
    await registerRawSource('Liar', small, liar);
    const dl = await peer('Victim', root);
    const ev = await dl.run('D small.bin');
    assert.equal(ev.event, 'error', JSON.stringify(ev));
    assert.equal(ev.code, 'HASH_MISMATCH');
    assert.equal(ev.command, 'D');
    assert.match(String(ev.message), /Liar/, 'the error names where the bytes came from');
    assert.ok(liar.requests.length >= 1);
    assert.deepEqual(fs.readdirSync(dl.dir), [], 'neither the file nor a .part');
  });
});
