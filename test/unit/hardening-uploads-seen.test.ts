// Who downloads from me, over real sockets: a stranger at 127.0.0.2 shows up by its socket address, once per connection, and goes when it hangs up.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ActiveUpload } from '../../src/peer/api';
import { ContentServer } from '../../src/peer/content-server';
import { makeTempDir, RawContentClient, removeDir, serveFiles, TestFile, writeTestFile } from '../support/peers';

const STRANGER = '127.0.0.2';
const KiB = 1024;

/** Resolves with the first upload list (the current one, or one announced later) that `wanted` accepts. */
function uploadsWhere(server: ContentServer, wanted: (u: ActiveUpload[]) => boolean): Promise<ActiveUpload[]> {
  if (wanted(server.uploads)) return Promise.resolve(server.uploads);
  return new Promise((resolve) => {
    const listener = (u: ActiveUpload[]) => {
      if (!wanted(u)) return;
      server.off('uploads-changed', listener);
      resolve(u);
    };
    server.on('uploads-changed', listener);
  });
}

describe('hardening: who downloads from me', function () {
  this.timeout(20_000);
  let dir: string;
  let server: ContentServer | undefined;
  const clients: RawContentClient[] = [];

  async function stranger(s: ContentServer): Promise<RawContentClient> {
    const c = await RawContentClient.connect(s.port, '127.0.0.1', STRANGER);
    clients.push(c);
    return c;
  }

  beforeEach(async function () {
    dir = await makeTempDir('uploads-seen');
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
    server = undefined;
    await removeDir(dir);
  });

  it('a stranger downloading half a file is listed by its socket address with the bytes sent, and is gone once it hangs up', async function () {
    const file = await writeTestFile(dir, 'album.bin', 64 * KiB);
    server = await serveFiles([file]);
    const c = await stranger(server);

    c.request({ contentName: file.name, sha256: file.sha256, offset: 0, length: 32 * KiB });
    const response = await c.readResponse();
    assert.equal(response.type, 'C');
    const [upload] = await uploadsWhere(server, (u) => u.length === 1 && u[0].sent === 32 * KiB);
    assert.deepEqual(upload, { address: STRANGER, contentName: file.name, size: file.size, sent: 32 * KiB });

    await c.close();
    assert.deepEqual(await uploadsWhere(server, (u) => u.length === 0), [], 'the stranger stays listed after it hung up');
  });

  it('one connection asking for 30 contents in turn is one entry, naming the latest', async function () {
    const files: TestFile[] = [];
    for (let i = 0; i < 30; i++) files.push(await writeTestFile(dir, `part-${i}.bin`, 1 * KiB));
    server = await serveFiles(files);
    const c = await stranger(server);

    for (const f of files) {
      c.request({ contentName: f.name, sha256: f.sha256, offset: 0, length: 0 });
      assert.equal((await c.readResponse()).type, 'C');
    }
    const last = files[files.length - 1].name;
    const uploads = await uploadsWhere(server, (u) => u.some((x) => x.contentName === last));
    assert.equal(uploads.length, 1, `one connection must hold one entry, got ${uploads.map((u) => u.contentName).join(', ')}`);
  });

  it('refused requests (not shared, bad hash) list nobody', async function () {
    const file = await writeTestFile(dir, 'secret.bin', 4 * KiB);
    server = await serveFiles([file]);
    const c = await stranger(server);
    c.request({ contentName: 'not-shared.bin', sha256: file.sha256, offset: 0, length: 0 });
    assert.equal((await c.readResponse()).type, 'E');
    await c.closed;
    assert.deepEqual(server.uploads, []);
  });

  it('a listener that throws does not stop the upload', async function () {
    const file = await writeTestFile(dir, 'song.bin', 8 * KiB);
    server = await serveFiles([file], { log: () => undefined });
    server.on('uploads-changed', () => {
      throw new Error('a broken listener');
    });
    const c = await stranger(server);
    c.request({ contentName: file.name, sha256: file.sha256, offset: 0, length: 0 });
    const r = await c.readResponse();
    assert.ok(r.type === 'C' && r.body.equals(await fsp.readFile(path.join(dir, 'song.bin'))));
  });
});
