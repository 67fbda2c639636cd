// A download folder that cannot be made or used fails at once, in words about the path, and never hangs.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContentServer } from '../../src/peer/content-server';
import { Downloader, DownloadJob } from '../../src/peer/download/downloader';
import { lockFileName } from '../../src/peer/download/placement';
import { isP2P } from '../support/p2p-error';
import { makeTempDir, removeDir, serveFiles, TestFile, writeTestFile } from '../support/peers';

describe('download folder: bad places fail fast and say why', function () {
  this.timeout(20_000);
  let dir: string;
  let file: TestFile;
  let source: ContentServer;

  before(async () => {
    dir = await makeTempDir('dl-folder');
    fs.mkdirSync(path.join(dir, 'src'));
    file = await writeTestFile(path.join(dir, 'src'), 'report.pdf', 64 * 1024);
    source = await serveFiles([file]);
  });

  after(async () => {
    await source.close();
    await removeDir(dir);
  });

  function job(folder: string): DownloadJob {
    return { contentName: 'report.pdf', sha256: file.sha256, size: file.size, folder, sources: [{ peerName: 'Src', host: '127.0.0.1', port: source.port }] };
  }

  it('a download folder under a file is refused as a bad path naming that file (was "Unknown error … ENOTDIR")', async () => {
    const plain = path.join(dir, 'notes.txt');
    fs.writeFileSync(plain, 'a file, not a folder');
    await assert.rejects(new Downloader().fetch(job(path.join(plain, 'downloads'))), (err: unknown) => {
      isP2P('BAD_PATH')(err);
      assert.match((err as Error).message, new RegExp(`${plain.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is a file`));
      return true;
    });
  });

  it('a download folder where the file system refuses new folders (/proc/nope) fails at once instead of hanging', async function () {
    if (process.platform !== 'linux') this.skip();
    const started = Date.now();
    await assert.rejects(new Downloader().fetch(job('/proc/nope')), isP2P('BAD_PATH'));
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.equal(fs.existsSync('/proc/nope'), false);
  });

  it('a step that blocks (a FIFO planted as the lock file) fails with IO after the time limit, naming the step', async function () {
    if (process.platform === 'win32') this.skip();
    const folder = path.join(dir, 'fifo');
    fs.mkdirSync(folder);
    const lock = path.join(folder, lockFileName('report.pdf', file.sha256));
    // Opening a FIFO for reading waits for a writer that never comes.
    (await import('node:child_process')).execFileSync('mkfifo', [lock]);
    const started = Date.now();
    try {
      await assert.rejects(new Downloader({ fsStepMs: 500 }).fetch(job(folder)), (err: unknown) => {
        isP2P('IO')(err);
        assert.match((err as Error).message, /locking report\.pdf in .* did not finish within 0\.5 s/);
        return true;
      });
      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    } finally {
      // Frees the thread still blocked in open(): a writer arrives.
      fs.closeSync(fs.openSync(lock, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    }
  });

  it('the same download into a good folder works (the checks above are not in the way)', async () => {
    const result = await new Downloader().fetch(job(path.join(dir, 'good', 'nested')));
    assert.equal(result.reused, false);
    assert.equal(fs.statSync(result.path).size, file.size);
  });
});
