// p2p-peer's O and F, as a script drives them: a page at a time, with the command for the next page, against a real index server process.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { IndexClient } from '../../src/peer/index-client';
import { parseAddress } from '../../src/peer/address';
import { CliPeer, IndexServerProcess, type CliJsonEvent } from '../support/cli';

describe('terminal peer: O and F a page at a time', function () {
  this.timeout(60_000);
  let server: IndexServerProcess;
  let sam: CliPeer;
  const names = Array.from({ length: 120 }, (_, i) => `Holiday photo ${String(i).padStart(3, '0')}.jpg`);

  before(async () => {
    server = await IndexServerProcess.start();
    const lister = new IndexClient({ address: parseAddress(server.address) });
    const secret = randomBytes(32);
    for (const n of names) await lister.register('lister', secret, 4000, n, 10, randomBytes(32));
    await lister.register('lister', secret, 4000, 'notes.txt', 10, randomBytes(32));
    await lister.close();
    sam = await CliPeer.start({ index: server.address, name: 'Sam' });
  });

  after(async () => {
    await sam?.stop();
    await server?.stop();
  });

  const contentNames = (ev: CliJsonEvent) => (ev.items as { contentName: string }[]).map((i) => i.contentName);

  it('O shows the first 50 and names the command for the next; O more goes on until the end', async () => {
    const first = await sam.run('O');
    assert.equal(first.event, 'online');
    assert.equal((first.items as unknown[]).length, 50);
    assert.equal(first.more, 'O more');
    const seen = contentNames(first);
    let page = first;
    while (page.more) {
      page = await sam.run('O more');
      seen.push(...contentNames(page));
    }
    assert.deepEqual(seen, [...names, 'notes.txt'], 'every entry once, in registration order');
    const again = await sam.run('O more');
    assert.equal(again.event, 'error');
    assert.equal(again.code, 'BAD_COMMAND', 'after the last page there is nothing more');
    assert.deepEqual(contentNames(await sam.run('o')), names.slice(0, 50), 'O starts over');
  });

  it('F <text> finds names by part, in any case; F alone gives the next page', async () => {
    const first = await sam.run('F "PHOTO 1"');
    assert.equal(first.event, 'found');
    assert.equal(first.text, 'PHOTO 1');
    const hits = first.hits as { contentName: string; sources: number; size: number; sha256: string }[];
    assert.equal(hits.length, 20, 'photos 100 to 119');
    assert.ok(hits.every((h) => h.contentName.startsWith('Holiday photo 1') && h.sources === 1 && h.size === 10));
    assert.equal(first.more, undefined);

    const photos = await sam.run('F photo');
    assert.equal((photos.hits as unknown[]).length, 50);
    assert.equal(photos.more, 'F');
    const rest = await sam.run('F');
    assert.equal(rest.event, 'found');
    assert.equal((rest.hits as unknown[]).length, 50);
    assert.equal((await sam.run('F')).more, undefined, 'the third page is the last');

    assert.deepEqual((await sam.run('F nothing-like-this')).hits, []);
    assert.equal((await sam.runExpectingError('F', 'BAD_COMMAND')).command, 'F');
    await sam.runExpectingError(`F ${'x'.repeat(256)}`, 'BAD_COMMAND');
    await sam.runExpectingError('O less', 'BAD_COMMAND');
  });
});
