// A removed folder or an index restart hits many shares at once: the user gets one notice per kind a minute, the log gets the rest.
import * as assert from 'node:assert/strict';
import { P2PError } from '../../src/protocol/errors';
import { ShareNotices } from '../../src/extension/share-notices';

describe('share notices', () => {
  function setUp() {
    let now = 1_000_000;
    const shown: string[] = [];
    const logged: string[] = [];
    const log = { warn: (m: string) => void logged.push(m), error: (m: string) => void logged.push(m) };
    const notifier = { failure: (_err: unknown, opts: { title: string }) => void shown.push(opts.title) };
    const notices = new ShareNotices(log, notifier as never, () => now);
    return { notices, shown, logged, later: (ms: number) => (now += ms) };
  }

  it('shows the first of forty files lost with a folder, and logs the other thirty-nine', () => {
    const { notices, shown, logged } = setUp();
    for (let i = 0; i < 40; i++) notices.lost(`f${i}.txt`, new P2PError('NOT_FOUND', 'gone'));
    assert.deepEqual(shown, ['Stopped sharing "f0.txt"']);
    assert.equal(logged.length, 39);
  });

  it('keeps each kind apart: a refusal is shown even right after a loss, and NAME_TAKEN apart from BAD_PROOF', () => {
    const { notices, shown } = setUp();
    notices.lost('a.txt', new P2PError('NOT_FOUND', 'gone'));
    notices.refused('a.txt', new P2PError('NAME_TAKEN', 'taken'));
    notices.refused('b.txt', new P2PError('NAME_TAKEN', 'taken'));
    notices.refused('c.txt', new P2PError('BAD_PROOF', 'forged'));
    assert.deepEqual(shown, ['Stopped sharing "a.txt"', 'The index server refused "a.txt"', 'The index server refused "c.txt"']);
  });

  it('shows the same kind again once a minute has passed', () => {
    const { notices, shown, later } = setUp();
    notices.refused('a.txt', new P2PError('NAME_TAKEN', 'taken'));
    later(59_999);
    notices.refused('b.txt', new P2PError('NAME_TAKEN', 'taken'));
    later(1);
    notices.refused('c.txt', new P2PError('NAME_TAKEN', 'taken'));
    assert.deepEqual(shown, ['The index server refused "a.txt"', 'The index server refused "c.txt"']);
  });
});
