// The pure parts of the views' affordances: selections, click confirmation, dropped lists, decorations and upload text, and the folder walk on a real disk.
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { listFolderFiles } from '../../src/extension/folder-walk';
import { shareDecoration, uploadDescription } from '../../src/extension/view-model/share-marks';
import {
  CLICKED, clickNeedsConfirmation, folderFromArgs, isClick, rowsFromArgs, wantsConfirmation,
} from '../../src/extension/view-model/selection';
import { MAX_URI_LIST_CHARS, pathsFromUriList } from '../../src/extension/view-model/uri-list';
import { P2PError } from '../../src/protocol/errors';

const row = (id: string) => ({ kind: 'share', id, contentName: id });
const MiB = 1024 * 1024;

describe('ui affordances: selections', () => {
  it('acts on every selected row when the clicked row is among them, once each', () => {
    const [a, b, c] = [row('a'), row('b'), row('c')];
    assert.deepEqual(rowsFromArgs([b, [a, b, c, b]]), [a, b, c]);
  });

  it('acts on the clicked row alone when it is outside the selection, or when there is no selection', () => {
    const [a, b, c] = [row('a'), row('b'), row('c')];
    assert.deepEqual(rowsFromArgs([c, [a, b]]), [c]);
    assert.deepEqual(rowsFromArgs([c]), [c]);
    assert.deepEqual(rowsFromArgs([c, CLICKED]), [c]);
  });

  it('leaves names, paths and nothing to the single-item path', () => {
    assert.equal(rowsFromArgs(['notes.txt']), undefined);
    assert.equal(rowsFromArgs([]), undefined);
    assert.equal(rowsFromArgs([{ contentName: 'x' }]), undefined);
  });

  it('tells a click from a menu or a test', () => {
    assert.ok(isClick(CLICKED));
    assert.ok(!isClick([row('a')]));
    assert.ok(!isClick(undefined));
  });

  it('asks before a click downloads more than the threshold, never with 0, never for a size that is not a number', () => {
    assert.ok(clickNeedsConfirmation(100 * MiB + 1, 100 * MiB));
    assert.ok(!clickNeedsConfirmation(100 * MiB, 100 * MiB));
    assert.ok(!clickNeedsConfirmation(2 ** 52, 0));
    assert.ok(!clickNeedsConfirmation('200000000', 1));
  });

  it('reads {folder} and {confirm: false} after the rows', () => {
    assert.equal(folderFromArgs([row('a'), [row('a')], { folder: '/tmp/x' }]), '/tmp/x');
    assert.equal(folderFromArgs([row('a')]), undefined);
    assert.throws(() => folderFromArgs([{ folder: 7 }]), (e: unknown) => e instanceof P2PError && e.code === 'BAD_COMMAND');
    assert.ok(wantsConfirmation([]));
    assert.ok(!wantsConfirmation([{ confirm: false }]));
  });
});

describe('ui affordances: a dropped uri list', () => {
  it('gives the local paths of file: URIs, skipping comments and repeats', () => {
    const a = path.join(os.tmpdir(), 'a b.txt');
    const list = `# from the explorer\r\n${pathToFileURL(a)}\r\n${pathToFileURL(a)}\r\n\r\n`;
    assert.deepEqual(pathsFromUriList(list), [a]);
  });

  it('refuses a web page link dropped among files, sharing none of them', () => {
    const list = `${pathToFileURL('/tmp/ok.txt')}\nhttps://evil.example/payload\n`;
    assert.throws(() => pathsFromUriList(list), (e: unknown) => e instanceof P2PError && e.code === 'BAD_PATH' && !e.message.includes('evil'));
  });

  it('refuses a list of more items than can be shared at once, and an oversized text, before parsing it', () => {
    const many = Array.from({ length: 1001 }, (_, i) => pathToFileURL(`/tmp/f${i}`).toString()).join('\n');
    assert.throws(() => pathsFromUriList(many), /1001 items were dropped; at most 1000/);
    assert.throws(() => pathsFromUriList('#'.repeat(MAX_URI_LIST_CHARS + 1)), /larger than/);
  });
});

describe('ui affordances: what a share shows', () => {
  const hostile = '$(alert) [click](command:p2p.quitSharing) <img src=x>';
  const upload = { address: '127.0.0.2', contentName: hostile, size: 1000, sent: 400 };

  it('decorates a shared file with local facts only: no content name, no address', () => {
    for (const d of [shareDecoration({ size: 2048 }, []), shareDecoration({ size: 2048 }, [upload, { ...upload, address: '::1' }])]) {
      const text = `${d.badge} ${d.tooltip}`;
      assert.ok(!text.includes('alert') && !text.includes('command:') && !text.includes('127.0.0.2') && !text.includes('::1'), text);
    }
    assert.deepEqual(shareDecoration({ size: 2048 }, [upload]), { badge: '↑', tooltip: 'Shared with P2P peers (2.0 KiB); uploading to 1 peer now' });
    assert.equal(shareDecoration({ size: 2048 }, []).badge, 'P');
  });

  it('says who downloads a share and how far, as inert label text', () => {
    assert.equal(uploadDescription([]), undefined);
    assert.equal(uploadDescription([upload]), 'uploading to 127.0.0.2 — 40%');
    assert.equal(uploadDescription([upload, { ...upload, address: '::1', sent: 900 }]), 'uploading to 2 peers — 90%');
    // A re-requested range counts twice; the text never claims more than all of it.
    assert.equal(uploadDescription([{ ...upload, sent: 5000 }]), 'uploading to 127.0.0.2 — 100%');
    assert.equal(uploadDescription([{ ...upload, address: '$(x)' }]), 'uploading to \\$(x) — 40%');
  });
});

describe('ui affordances: the folder a user shares', () => {
  let dir: string;
  let secret: string;

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'p2p-share-folder-'));
    secret = path.join(dir, 'outside', 'id_rsa');
    await fsp.mkdir(path.dirname(secret));
    await fsp.writeFile(secret, 'PRIVATE KEY');
    await fsp.mkdir(path.join(dir, 'shared', 'sub', 'deeper'), { recursive: true });
  });

  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const shared = (...p: string[]) => path.join(dir, 'shared', ...p);

  it('lists every regular file below it and never one a symbolic link leads to', async () => {
    await fsp.writeFile(shared('a.txt'), 'a');
    await fsp.writeFile(shared('sub', 'b.txt'), 'b');
    await fsp.writeFile(shared('sub', 'deeper', 'c.txt'), 'c');
    // What an attacker who can write into a shared folder plants: links out of it, and a loop.
    await fsp.symlink(secret, shared('notes.txt'));
    await fsp.symlink(path.dirname(secret), shared('sub', 'keys'));
    await fsp.symlink(shared(), shared('sub', 'deeper', 'loop'));

    const found = await listFolderFiles(shared());

    assert.deepEqual(found.files, [shared('a.txt'), shared('sub', 'b.txt'), shared('sub', 'deeper', 'c.txt')]);
    assert.equal(found.skippedNotFiles, 3);
  });

  it('keeps the first of two files with one name, and skips names that are no content name', async () => {
    await fsp.writeFile(shared('same.txt'), '1');
    await fsp.writeFile(shared('sub', 'same.txt'), '2');
    await fsp.writeFile(shared('sub', ' lead.txt'), '3');
    const found = await listFolderFiles(shared());
    assert.deepEqual(found.files, [shared('same.txt')]);
    assert.equal(found.skippedNames, 2);
  });

  it('refuses a folder with more files than the cap, and one with too many entries, instead of sharing part of it', async () => {
    for (let i = 0; i < 6; i++) await fsp.writeFile(shared(`f${i}.txt`), String(i));
    await assert.rejects(listFolderFiles(shared(), { maxFiles: 5, maxEntries: 100, maxDepth: 8 }), /more than 5 files/);
    for (let i = 0; i < 10; i++) await fsp.mkdir(shared('sub', `empty${i}`));
    await assert.rejects(listFolderFiles(shared(), { maxFiles: 100, maxEntries: 12, maxDepth: 8 }), /more than 12 entries/);
  });

  it('does not enter folders below the depth limit, and refuses a path that is not a folder', async () => {
    await fsp.writeFile(shared('sub', 'deeper', 'deep.txt'), 'd');
    assert.deepEqual((await listFolderFiles(shared(), { maxFiles: 10, maxEntries: 100, maxDepth: 1 })).files, []);
    await fsp.writeFile(shared('plain.txt'), 'p');
    await assert.rejects(listFolderFiles(shared('plain.txt')), (e: unknown) => e instanceof P2PError && e.code === 'NOT_A_FILE');
  });
});
