// One download folder, many processes: real p2p-peer processes racing for one content, an attacker deleting a .part, and user files at helper names.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContentServer } from '../../src/peer/content-server';
import { Downloader } from '../../src/peer/download/downloader';
import { lockFileName, partFileName } from '../../src/peer/download/placement';
import { CliPeer, IndexServerProcess, makeTempDir, removeTempDir, type CliJsonEvent } from '../support/cli';
import { isP2P } from '../support/p2p-error';
import { serveFiles, sha256OfFile, TestFile, writeTestFile } from '../support/peers';

const MiB = 1024 * 1024;

describe('hardening: one download folder shared by many processes', function () {
  this.timeout(120_000);

  let server: IndexServerProcess;
  let root: string;
  let report: TestFile;
  let source: CliPeer;
  const peers: CliPeer[] = [];

  async function peer(name: string, folder: string, args: string[] = []): Promise<CliPeer> {
    const p = await CliPeer.start({ index: server.address, name, dir: folder, args: ['--no-share-downloads', ...args] });
    peers.push(p);
    return p;
  }

  /** The event that ends a D: downloaded or an error (progress and state events pass by). */
  function endOfDownload(p: CliPeer): Promise<CliJsonEvent> {
    return p.next((e) => e.event === 'downloaded' || (e.event === 'error' && e.command === 'D'));
  }

  /** Resolves once the .part.json sidecar records `bytes` from offset 0, watching its folder for each rewrite. */
  async function sidecarHolds(file: string, bytes: number): Promise<void> {
    const holds = (): boolean => {
      try {
        const ranges = JSON.parse(fs.readFileSync(file, 'utf8')).ranges as [number, number][];
        return ranges.some(([a, b]) => a === 0 && b >= bytes);
      } catch {
        return false;
      }
    };
    if (holds()) return;
    const watcher = fs.watch(path.dirname(file));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${file} never recorded ${bytes} bytes`)), 20_000);
        watcher.on('change', () => {
          if (holds()) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } finally {
      watcher.close();
    }
  }

  function listDir(folder: string): string[] {
    return fs.readdirSync(folder).sort();
  }

  before(async function () {
    root = makeTempDir('shared-folder');
    fs.mkdirSync(path.join(root, 'src'));
    report = await writeTestFile(path.join(root, 'src'), 'report.pdf', 8 * MiB);
    server = await IndexServerProcess.start();
    // 4 MiB/s per upload: one download takes about 2 s, long enough for a second process to collide with it.
    source = await CliPeer.start({ index: server.address, name: 'Src', cwd: path.join(root, 'src'), args: ['--upload-limit', '4M'] });
    peers.push(source);
    assert.equal((await source.run('R report.pdf')).event, 'registered');
  });

  after(async function () {
    await Promise.all(peers.splice(0).map((p) => p.stop()));
    await server?.stop();
    removeTempDir(root);
  });

  it('two p2p-peer processes downloading the same content into one folder at once: one whole file, and each says what happened', async function () {
    for (let round = 1; round <= 3; round++) {
      const folder = path.join(root, `shared-${round}`);
      const [a, b] = await Promise.all([peer(`WinA${round}`, folder), peer(`WinB${round}`, folder)]);
      a.send('D report.pdf');
      b.send('D report.pdf');
      const outcomes = await Promise.all([endOfDownload(a), endOfDownload(b)]);

      for (const [me, other, ev] of [[a, b, outcomes[0]], [b, a, outcomes[1]]] as const) {
        if (ev.event === 'downloaded') {
          assert.equal(ev.sha256, report.sha256, JSON.stringify(ev));
          assert.equal(ev.path, path.join(folder, 'report.pdf'), JSON.stringify(ev));
        } else {
          // The loser is told who holds the download, by pid, and that trying again later will do.
          assert.equal(ev.code, 'BUSY', `${me.label}: ${JSON.stringify(ev)}`);
          assert.match(String(ev.message), new RegExp(`process ${other.child.pid}\\b`), JSON.stringify(ev));
        }
      }
      assert.ok(outcomes.some((e) => e.event === 'downloaded' && e.reused === false), `round ${round}: ${JSON.stringify(outcomes)}`);
      assert.deepEqual(listDir(folder), ['report.pdf'], `round ${round}: one final file, no copy, no .part, no lock left`);
      assert.equal(await sha256OfFile(path.join(folder, 'report.pdf')), report.sha256, `round ${round}: the bytes are whole`);
      console.log(`      round ${round}: ${outcomes.map((e) => (e.event === 'downloaded' ? `downloaded${e.reused ? ' (reused)' : ''}` : e.code)).join(' + ')}`);
    }
  });

  it('never places a short file when another process deletes the .part mid-download and puts its own unfinished file there', async function () {
    const folder = path.join(root, 'attacked');
    const victim = await peer('Victim', folder);
    const part = path.join(folder, partFileName('report.pdf', report.sha256));
    victim.send('D report.pdf');
    await victim.next((e) => e.event === 'progress' && (e.received as number) >= 1 * MiB);

    // What a second downloader that ignores the lock would do: drop our .part and start its own.
    fs.unlinkSync(part);
    fs.writeFileSync(part, Buffer.alloc(1000, 0x41));
    const ev = await endOfDownload(victim);

    assert.equal(ev.event, 'error', JSON.stringify(ev));
    assert.equal(ev.code, 'IO');
    assert.match(String(ev.message), /replaced by another process.*nothing was saved under the final name/);
    assert.ok(!fs.existsSync(path.join(folder, 'report.pdf')), 'nothing under the final name');
    assert.deepEqual(listDir(folder).filter((f) => !f.startsWith('.')), [], 'no final name of any kind');
    assert.deepEqual(fs.readFileSync(part), Buffer.alloc(1000, 0x41), "the other process's file is left as it was");
  });

  it('takes over the lock of a p2p-peer that was SIGKILLed mid-download, and resumes its .part', async function () {
    const folder = path.join(root, 'crashed');
    const first = await peer('Crashes', folder);
    first.send('D report.pdf');
    // Bytes are kept a whole checked piece (1 MiB) at a time, and the sidecar that records them is
    // rewritten at most every 250 ms: kill once the sidecar on disk holds the first whole piece.
    await first.next((e) => e.event === 'progress' && (e.received as number) >= 2 * MiB);
    await sidecarHolds(path.join(folder, `${partFileName('report.pdf', report.sha256)}.json`), MiB);
    await first.kill('SIGKILL');
    const lock = path.join(folder, lockFileName('report.pdf', report.sha256));
    assert.match(fs.readFileSync(lock, 'utf8'), new RegExp(`"pid":${first.child.pid}\\b`), 'the dead process left its lock');

    const second = await peer('Retries', folder);
    const ev = await second.run('D report.pdf');
    assert.equal(ev.event, 'downloaded', JSON.stringify(ev));
    assert.ok((ev.resumedFrom as number) > 0, `resumed from ${ev.resumedFrom as number}`);
    assert.equal(await sha256OfFile(path.join(folder, 'report.pdf')), report.sha256);
    assert.deepEqual(listDir(folder), ['report.pdf'], 'the stale lock and the .part are gone');
  });

  describe("the user's own files at the downloader's helper names", function () {
    let content: ContentServer;
    let folder: string;

    before(async function () {
      content = await serveFiles([report]);
    });

    after(async function () {
      await content.close();
    });

    beforeEach(function () {
      folder = fs.mkdtempSync(path.join(root, 'own-'));
    });

    function fetch(): Promise<unknown> {
      return new Downloader().fetch({
        contentName: report.name, sha256: report.sha256, size: report.size, folder,
        sources: [{ peerName: 'Src', host: '127.0.0.1', port: content.port }],
      });
    }

    /** Writes the user's file and returns a check that it is still the same file with the same bytes. */
    function usersFile(name: string, body: string): () => void {
      const file = path.join(folder, name);
      fs.writeFileSync(file, body);
      const ino = fs.statSync(file).ino;
      return () => {
        assert.equal(fs.readFileSync(file, 'utf8'), body, `${name} keeps its bytes`);
        assert.equal(fs.statSync(file).ino, ino, `${name} is the same file`);
      };
    }

    const part = () => partFileName('report.pdf', report.sha256);
    for (const [label, names] of [
      ['.part', () => [part()]],
      ['.part.json', () => [`${part()}.json`]],
      ['.part and .part.json (an older sidecar format)', () => [part(), `${part()}.json`]],
    ] as const) {
      it(`leaves a file of the user's at the ${label} name untouched and downloads under another helper name`, async function () {
        const checks = names().map((n) => usersFile(n, n.endsWith('.json') ? '{"version":1,"ranges":[[0,5]]}' : 'my own notes'));
        await fetch();
        for (const check of checks) check();
        assert.equal(await sha256OfFile(path.join(folder, 'report.pdf')), report.sha256);
        assert.deepEqual(listDir(folder), [...names(), 'report.pdf'].sort(), 'only the user files and the download');
      });
    }

    it("refuses clearly, touching nothing, when a file of the user's sits at the lock name", async function () {
      const lock = lockFileName('report.pdf', report.sha256);
      const check = usersFile(lock, 'not a lock');
      await assert.rejects(fetch(), isP2P('IO', /was not created by P2P Share; it is left alone/));
      check();
      assert.deepEqual(listDir(folder), [lock]);
    });
  });
});
