// The pure parts of persistent shares: reading a stored record that may be hostile, and naming a copy "name (2).ext".
import * as assert from 'node:assert/strict';
import { MAX_STORED_SHARES, readStoredShares, storedSharesRecord, type StoredShare } from '../../src/extension/view-model/stored-shares';
import { nextFreeName, splitExtension } from '../../src/extension/view-model/free-name';

const HASH = 'ab'.repeat(32);
const NOTES: StoredShare = { contentName: 'notes.md', path: '/home/sam/notes.md', size: 12, sha256: HASH };

describe('remembered shares: the stored record', () => {
  it('reads back what it stored, keeping only the four fields of each share', () => {
    const share = { ...NOTES, registeredAt: new Date(), extra: 'x' };
    const record = storedSharesRecord([share]);
    assert.deepEqual(JSON.parse(JSON.stringify(record)), { version: 1, shares: [NOTES] });
    assert.deepEqual(readStoredShares(JSON.parse(JSON.stringify(record))), { shares: [NOTES] });
  });

  it('treats nothing stored as no shares and no problem', () => {
    assert.deepEqual(readStoredShares(undefined), { shares: [] });
  });

  it('ignores a value that is not a record, or of another version, with a sentence saying so', () => {
    for (const value of ['oops', 42, [NOTES], { shares: [NOTES] }, { version: 2, shares: [NOTES] }, { version: 1 }, { version: 1, shares: 'x' }]) {
      const read = readStoredShares(value);
      assert.deepEqual(read.shares, [], JSON.stringify(value));
      assert.match(read.problem ?? '', /ignored/, JSON.stringify(value));
    }
    assert.match(readStoredShares({ version: 2, shares: [] }).problem!, /version 2.*reads version 1/);
  });

  it('skips a hostile entry and keeps the good ones, naming what was wrong', () => {
    const hostile = [
      { ...NOTES, contentName: '../../.bashrc' },
      { ...NOTES, contentName: 'a\u202Etxt.exe' },
      { ...NOTES, contentName: 'rel.md', path: 'relative/notes.md' },
      { ...NOTES, contentName: 'ctl.md', path: '/home/sam/\nnotes.md' },
      { ...NOTES, contentName: 'big.md', size: 2 ** 60 },
      { ...NOTES, contentName: 'neg.md', size: -1 },
      { ...NOTES, contentName: 'hash.md', sha256: 'AB'.repeat(32) },
      { ...NOTES, contentName: 'short.md', sha256: 'ab' },
      null,
      'notes.md',
    ];
    const read = readStoredShares({ version: 1, shares: [NOTES, ...hostile] });
    assert.deepEqual(read.shares, [NOTES]);
    assert.match(read.problem!, /^10 remembered share\(s\) were ignored: an entry has a bad content name: .*and 7 more$/);
  });

  it('keeps the first of two entries under one content name', () => {
    const read = readStoredShares({ version: 1, shares: [NOTES, { ...NOTES, path: '/elsewhere/notes.md' }] });
    assert.deepEqual(read.shares, [NOTES]);
    assert.match(read.problem!, /"notes.md" is listed twice/);
  });

  it(`ignores a list longer than ${MAX_STORED_SHARES} entries without reading them`, () => {
    const many = new Array(MAX_STORED_SHARES + 1).fill(NOTES);
    const read = readStoredShares({ version: 1, shares: many });
    assert.deepEqual(read.shares, []);
    assert.match(read.problem!, /more than the 10000 kept/);
  });
});

describe('remembered shares: the next free content name', () => {
  const takenOf = (...names: string[]) => (n: string) => names.includes(n);

  it('numbers a copy before the extension, from 2, skipping names in use', () => {
    assert.equal(nextFreeName('notes.md', takenOf('notes.md')), 'notes (2).md');
    assert.equal(nextFreeName('notes.md', takenOf('notes.md', 'notes (2).md', 'notes (3).md')), 'notes (4).md');
    assert.equal(nextFreeName('Makefile', takenOf('Makefile')), 'Makefile (2)');
    assert.equal(nextFreeName('archive.tar.gz', takenOf()), 'archive.tar (2).gz');
  });

  it('keeps a leading dot as part of the name', () => {
    assert.deepEqual(splitExtension('.bashrc'), { base: '.bashrc', ext: '' });
    assert.equal(nextFreeName('.bashrc', takenOf('.bashrc')), '.bashrc (2)');
  });

  it('counts on from a name that is already a numbered copy', () => {
    assert.equal(nextFreeName('notes (2).md', takenOf('notes (3).md')), 'notes (4).md');
  });

  it('shortens a long base so the copy stays within the 255-byte name limit, at a character boundary', () => {
    const name = `${'é'.repeat(126)}.md`; // 252 + 3 bytes
    const copy = nextFreeName(name, takenOf())!;
    assert.ok(Buffer.byteLength(copy) <= 255, `${Buffer.byteLength(copy)} bytes`);
    assert.match(copy, /^é+ \(2\)\.md$/u);
  });
});
