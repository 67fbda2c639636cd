// The connection state in words (one wording for status bar, tooltip, view and notification) and errors in the user's terms.
import * as assert from 'node:assert/strict';
import { P2PError } from '../../src/protocol/errors';
import { downloadStopped, errorActions } from '../../src/extension/view-model/error-actions';
import { showAs } from '../../src/extension/view-model/file-kind';
import { offlineNotice, offlineReason, shareNote, statusText, viewDescription } from '../../src/extension/view-model/status-text';

const MiB = 1024 * 1024;
const ctx = { canRetry: true, localServerRunning: false };

describe('ui state text: honest connection state', () => {
  const refused = 'Could not connect: nothing listens on UDP port 1 of index server 127.0.0.1:1 (ICMP port unreachable, ECONNREFUSED)';
  const notFound = 'Could not connect: cannot resolve the index server host "nonexistent.invalid": getaddrinfo ENOTFOUND nonexistent.invalid';
  const silent = 'The index server did not answer: no answer from index server 10.0.0.9:7870 within 3 s; still trying';

  it('names the real reason: a missing host, a closed port, silence', () => {
    assert.equal(offlineReason('UNREACHABLE', notFound), 'host not found (ENOTFOUND)');
    assert.equal(offlineReason('UNREACHABLE', refused), 'port closed (ECONNREFUSED)');
    assert.equal(offlineReason('TIMEOUT', silent), 'no answer');
    assert.equal(offlineReason('UNREACHABLE', 'sending: EHOSTUNREACH'), 'no route to host (EHOSTUNREACH)');
  });

  it('nonexistent.invalid is "host not found" everywhere: status bar, tooltip, view title, notification; never "did not answer"', () => {
    const facts = { state: 'unreachable' as const, shareCount: 7, indexAddress: 'nonexistent.invalid:7870', reasonCode: 'UNREACHABLE' as const, detail: notFound };
    const s = statusText(facts);
    assert.equal(s.text, '$(debug-disconnect) P2P offline: host not found (ENOTFOUND)');
    assert.match(s.tooltip, /nonexistent\.invalid:7870` cannot be reached, host not found \(ENOTFOUND\)/);
    assert.equal(viewDescription(facts), 'offline: nonexistent.invalid:7870, host not found (ENOTFOUND)');
    const notice = offlineNotice(facts.indexAddress, facts.reasonCode, facts.detail);
    assert.match(notice, /host not found \(ENOTFOUND\)/);
    for (const text of [s.text, s.tooltip, notice]) assert.doesNotMatch(text, /did not answer/);
    assert.equal(s.warning, true);
  });

  it('says "Connecting to host:port…" while a move tries a new index, not the old "root · 7 shared"', () => {
    const s = statusText({ state: 'connecting', peerName: 'root', shareCount: 7, indexAddress: '127.0.0.1:1' });
    assert.equal(s.text, '$(sync~spin) Connecting to 127.0.0.1:1…');
    assert.equal(viewDescription({ state: 'connecting', indexAddress: '127.0.0.1:1' }), 'connecting to 127.0.0.1:1…');
  });

  it('marks shares as not registered unless connected', () => {
    assert.equal(shareNote('connected'), undefined);
    for (const state of ['connecting', 'unreachable', 'stopped'] as const) assert.equal(shareNote(state), 'not registered (offline)');
  });
});

describe('ui state text: errors in the user\'s terms', () => {
  it('a download folder under a file (ENOTDIR) is a bad path with Open Settings on p2p.downloadFolder', () => {
    const e = new P2PError('BAD_PATH', '/home/u/notes.txt is a file, so the download folder /home/u/notes.txt/dl cannot be created there');
    const actions = errorActions(e.code, 'download', ctx);
    const open = actions.find((a) => a.id === 'openSettings');
    assert.equal(open?.setting, 'p2p.downloadFolder');
    assert.doesNotMatch(e.message, /Unknown error/);
  });

  it('a killed source speaks of the file: bytes of the file received and kept, not a range', () => {
    const gone = new P2PError('SOURCE_GONE', 'peer "Src1" at 127.0.0.1:4000 closed the connection in the middle of a transfer');
    const e = downloadStopped(gone, 'big.bin', { received: 50 * MiB, total: 64 * MiB });
    assert.equal(e.code, 'SOURCE_GONE');
    assert.match(e.message, /50 MiB of 64 MiB of "big\.bin" received, kept so that Download resumes it/);
    assert.doesNotMatch(e.message, /52428800|67108864/);
    assert.equal(downloadStopped(gone, 'big.bin', undefined), gone, 'nothing arrived: the engine\'s words say it best');
  });

  it('a large or binary download is revealed, not opened in a tab that says "file is very large"', () => {
    const binary = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1]);
    assert.equal(showAs('tool.bin', 64 * MiB, binary, false), 'reveal');
    assert.equal(showAs('huge.log', 200 * MiB, Buffer.from('text text'), false), 'reveal');
    assert.equal(showAs('notes.txt', 12, Buffer.from('hello there!'), true), 'text');
    assert.equal(showAs('photo.PNG', 2 * MiB, Buffer.from([0x89, 0x50, 0, 0]), false), 'editor');
  });
});
