// ShareBook: hashing shared files, serving lookups by name and hash, and following files that change or vanish.
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Share } from '../../src/peer/api';
import { hashFile } from '../../src/peer/file-hash';
import { ShareBook } from '../../src/peer/share-book';
import { P2PError } from '../../src/protocol/errors';
import { leafHash } from '../../src/protocol/pieces';
import { identityOfFile, makeTempDir, removeDir } from '../support/peers';
import { isP2P } from '../support/p2p-error';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');


/** The next 'share-changed' or 'share-removed', failing the test if it does not come in time. */
async function next<E extends 'share-changed' | 'share-removed'>(book: ShareBook, event: E, ms = 10_000): Promise<unknown[]> {
  return (await once(book, event, { signal: AbortSignal.timeout(ms) })) as unknown[];
}

describe('ShareBook', () => {
  let dir: string;
  let book: ShareBook;

  beforeEach(async () => {
    dir = await makeTempDir('share-book');
    book = new ShareBook({ debounceMs: 50 });
  });

  afterEach(async () => {
    book.close();
    await removeDir(dir);
  });

  /** What Peer does to share a file (it registers at the index between the two). */
  async function shareFile(file: string, contentName?: string, into: ShareBook = book): Promise<Share> {
    return into.put(await into.prepare(file, contentName));
  }

  async function write(name: string, bytes: Buffer): Promise<string> {
    const file = path.join(dir, name);
    await fsp.writeFile(file, bytes);
    return file;
  }

  describe('adding a file', () => {
    it('hashes it with SHA-256 exactly as crypto does, across many read chunks', async () => {
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      const file = await write('big.bin', bytes);
      const share = await shareFile(file);
      assert.equal(share.sha256, sha(bytes));
      assert.equal(share.size, bytes.length);
      assert.equal(share.contentName, 'big.bin');
      assert.equal(share.path, file);
      assert.ok(share.registeredAt instanceof Date);
    });

    it('hashes an empty file', async () => {
      const share = await shareFile(await write('empty.txt', Buffer.alloc(0)));
      assert.equal(share.size, 0);
      assert.equal(share.sha256, sha(Buffer.alloc(0)));
    });

    it('stores an absolute path when given a relative one', async () => {
      await write('rel.txt', Buffer.from('x'));
      const relative = path.relative(process.cwd(), path.join(dir, 'rel.txt'));
      const share = await shareFile(relative);
      assert.equal(share.path, path.join(dir, 'rel.txt'));
    });

    it('shares under a content name other than the file name when asked', async () => {
      const share = await shareFile(await write('local name.txt', Buffer.from('x')), 'Shared.txt');
      assert.equal(share.contentName, 'Shared.txt');
      assert.deepEqual(book.list().map((s) => s.contentName), ['Shared.txt']);
    });

    it('refuses a missing file with FILE_NOT_FOUND', async () => {
      await assert.rejects(shareFile(path.join(dir, 'nope.txt')), isP2P('FILE_NOT_FOUND', /nope\.txt/));
      assert.equal(book.list().length, 0);
    });

    it('refuses a folder with NOT_A_FILE', async () => {
      await fsp.mkdir(path.join(dir, 'sub'));
      await assert.rejects(shareFile(path.join(dir, 'sub')), isP2P('NOT_A_FILE', /folder/));
    });

    it('refuses an invalid content name with BAD_NAME, from the argument or from the file name', async () => {
      const file = await write('fine.txt', Buffer.from('x'));
      await assert.rejects(shareFile(file, 'a/b'), isP2P('BAD_NAME', /separator/));
      await assert.rejects(shareFile(await write('nul.txt', Buffer.from('x'))), isP2P('BAD_NAME', /reserved/));
      assert.equal(book.list().length, 0);
    });

    it('replaces the share of the same content name', async () => {
      await shareFile(await write('one.txt', Buffer.from('one')), 'Same.txt');
      const second = await shareFile(await write('two.txt', Buffer.from('two')), 'Same.txt');
      assert.deepEqual(book.list(), [second]);
      assert.equal(book.lookup('Same.txt', sha(Buffer.from('one'))), undefined);
    });

    it('lists shares in the order they were added, as copies', async () => {
      await shareFile(await write('b.txt', Buffer.from('b')));
      await shareFile(await write('a.txt', Buffer.from('a')));
      const list = book.list();
      assert.deepEqual(list.map((s) => s.contentName), ['b.txt', 'a.txt']);
      list[0].size = 999;
      assert.equal(book.get('b.txt')!.size, 1);
    });
  });

  describe('lookup for the content server', () => {
    it('finds a share only by its content name and its current hash (hex in any case)', async () => {
      const bytes = Buffer.from('served bytes');
      const file = await write('s.txt', bytes);
      await shareFile(file);
      const served = { path: file, size: bytes.length, sha256: sha(bytes), ...(await identityOfFile(file)), leaves: leafHash(bytes) };
      assert.deepEqual(book.lookup('s.txt', sha(bytes)), served);
      assert.deepEqual(book.lookup('s.txt', sha(bytes).toUpperCase()), served);
      assert.equal(book.lookup('s.txt', sha(Buffer.from('other'))), undefined);
      assert.equal(book.lookup('other.txt', sha(bytes)), undefined);
    });

    it('finds nothing once the share is removed', async () => {
      const bytes = Buffer.from('gone soon');
      await shareFile(await write('g.txt', bytes));
      const removed = book.remove('g.txt');
      assert.equal(removed?.contentName, 'g.txt');
      assert.equal(book.lookup('g.txt', sha(bytes)), undefined);
      assert.deepEqual(book.list(), []);
      assert.equal(book.remove('g.txt'), undefined);
    });
  });

  describe('watching shared files', () => {
    it('re-hashes a file that changes and reports the new size and hash', async () => {
      const file = await write('w.txt', Buffer.from('version one'));
      await shareFile(file);
      const changed = next(book, 'share-changed');
      const v2 = Buffer.from('version two, longer');
      await fsp.writeFile(file, v2);
      const [share, previous] = (await changed) as [Share, Share];
      assert.equal(share.sha256, sha(v2));
      assert.equal(share.size, v2.length);
      assert.equal(previous.sha256, sha(Buffer.from('version one')));
      assert.equal(book.lookup('w.txt', sha(v2))?.size, v2.length);
      assert.equal(book.lookup('w.txt', previous.sha256), undefined, 'the old content is no longer served');
    });

    it('catches a change made after hashing but before the share was stored', async () => {
      const file = await write('race.txt', Buffer.from('hashed'));
      const prepared = await book.prepare(file);
      await fsp.writeFile(file, 'changed before put');
      const changed = next(book, 'share-changed');
      book.put(prepared);
      const [share] = (await changed) as [Share];
      assert.equal(share.sha256, sha(Buffer.from('changed before put')));
    });

    it('follows a file replaced by a rename, as editors save', async () => {
      const file = await write('atomic.txt', Buffer.from('before'));
      await shareFile(file);
      const changed = next(book, 'share-changed');
      const tmp = path.join(dir, '.atomic.txt.tmp');
      await fsp.writeFile(tmp, 'after the save');
      await fsp.rename(tmp, file);
      const [share] = (await changed) as [Share];
      assert.equal(share.sha256, sha(Buffer.from('after the save')));
      assert.equal(book.list().length, 1);
    });

    it('drops a file that is deleted and says why', async () => {
      const file = await write('d.txt', Buffer.from('delete me'));
      await shareFile(file);
      const removed = next(book, 'share-removed');
      await fsp.unlink(file);
      const [share, reason] = (await removed) as [Share, P2PError];
      assert.equal(share.contentName, 'd.txt');
      assert.equal(reason.code, 'FILE_NOT_FOUND');
      assert.deepEqual(book.list(), []);
    });

    it('keeps watching a file still shared under another content name after one is removed', async () => {
      const file = await write('twice.txt', Buffer.from('one file, two names'));
      await shareFile(file, 'First.txt');
      await shareFile(file, 'Second.txt');
      book.remove('First.txt');
      const changed = next(book, 'share-changed');
      await fsp.writeFile(file, 'changed');
      const [share] = (await changed) as [Share];
      assert.equal(share.contentName, 'Second.txt');
      assert.equal(share.sha256, sha(Buffer.from('changed')));
    });

    it('watches files in different folders independently', async () => {
      await fsp.mkdir(path.join(dir, 'other'));
      const a = await write('a.txt', Buffer.from('a'));
      const b = path.join(dir, 'other', 'b.txt');
      await fsp.writeFile(b, 'b');
      await shareFile(a);
      await shareFile(b);
      const removed = next(book, 'share-removed');
      await fsp.unlink(b);
      const [share] = (await removed) as [Share];
      assert.equal(share.contentName, 'b.txt');
      assert.deepEqual(book.list().map((s) => s.contentName), ['a.txt']);
    });
  });

  describe('watching by polling, as on network drives', () => {
    let polling: ShareBook;
    beforeEach(() => {
      polling = new ShareBook({ watchMethod: 'poll', pollIntervalMs: 50, debounceMs: 10 });
    });
    afterEach(() => polling.close());

    it('notices a change and a deletion without folder events', async () => {
      const file = await write('p.txt', Buffer.from('polled'));
      await shareFile(file, undefined, polling);
      const changed = next(polling, 'share-changed');
      await fsp.writeFile(file, 'polled, then changed');
      const [share] = (await changed) as [Share];
      assert.equal(share.sha256, sha(Buffer.from('polled, then changed')));

      const removed = next(polling, 'share-removed');
      await fsp.unlink(file);
      const [gone, reason] = (await removed) as [Share, P2PError];
      assert.equal(gone.contentName, 'p.txt');
      assert.equal(reason.code, 'FILE_NOT_FOUND');
      assert.deepEqual(polling.list(), []);
    });
  });

  describe('hashFile', () => {
    it('streams a file and returns its size and hex SHA-256', async () => {
      const bytes = randomBytes(100_000);
      const file = await write('h.bin', bytes);
      const h = await hashFile(file);
      assert.equal(h.size, bytes.length);
      assert.equal(h.sha256, sha(bytes));
    });

    it('stops with CANCELLED when aborted', async () => {
      const file = await write('h.bin', randomBytes(4 * 1024 * 1024));
      const abort = new AbortController();
      abort.abort();
      await assert.rejects(hashFile(file, abort.signal), isP2P('CANCELLED'));
    });
  });

  it('refuses to add after close with CLOSED', async () => {
    book.close();
    await assert.rejects(shareFile(await write('late.txt', Buffer.from('x'))), isP2P('CLOSED'));
  });
});
