// The terminal peer's output: readable lines and tables in human mode, one JSON object per line in --json mode.
import * as assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { errorEvent, jsonLine, type CliEvent } from '../../src/cli/events';
import { formatBytes } from '../../src/common/byte-units';
import { formatHuman, formatPercent, formatTable } from '../../src/cli/human-format';
import { HumanPrinter, JsonPrinter } from '../../src/cli/printer';
import type { OnlineItem } from '../../src/peer/api';
import { P2PError } from '../../src/protocol/errors';

const HASH = 'ab'.repeat(32);
/** A finished download of Text1.txt from Jo, encrypted and piece-checked; each test changes what it is about. */
function downloaded(change: Partial<Extract<CliEvent, { event: 'downloaded' }>> = {}): CliEvent {
  return {
    event: 'downloaded', contentName: 'Text1.txt', path: '/tmp/dl/Text1.txt', size: 12, sha256: HASH, sources: ['Jo'],
    resumedFrom: 0, reused: false, encrypted: true, pieceChecked: true, refused: [], shared: false, ...change,
  };
}
const items: OnlineItem[] = [
  { peerName: 'Sam', contentName: 'Text.txt', host: '127.0.0.1', port: 40001, size: 12, sha256: HASH },
  { peerName: 'Jo', contentName: 'Text1.txt', host: '::1', port: 40002, size: 5 * 1024 * 1024, sha256: HASH },
];

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString('utf8') };
}

function progress(received: number, total: number): CliEvent {
  return { event: 'progress', contentName: 'big.bin', received, total, bytesPerSecond: 2048, sources: 2 };
}

describe('terminal peer: human-mode formatting', () => {
  it('writes sizes the way people read them', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB');
    assert.equal(formatBytes(300 * 1024 ** 3), '300 GiB');
  });

  it('never shows 100% before the last byte, nor NaN for empty content', () => {
    assert.equal(formatPercent(999, 1000), '99%');
    assert.equal(formatPercent(1000, 1000), '100%');
    assert.equal(formatPercent(0, 0), '100%');
    assert.equal(formatPercent(0, 1000), '0%');
  });

  it('aligns table columns and leaves no trailing blanks', () => {
    assert.deepEqual(formatTable(['A', 'BB'], [['long cell', 'x'], ['y', '']]), ['A          BB', 'long cell  x', 'y']);
  });

  it('shows the online list as a table of content, peer, size and address', () => {
    const lines = formatHuman({ event: 'online', items });
    assert.match(lines[0], /^CONTENT\s+PEER\s+SIZE\s+ADDRESS$/);
    assert.match(lines[1], /^Text\.txt\s+Sam\s+12 B\s+127\.0\.0\.1:40001$/);
    assert.match(lines[2], /^Text1\.txt\s+Jo\s+5\.0 MiB\s+\[::1\]:40002$/);
    assert.equal(lines[3], '2 registrations');
    // Columns line up: every row's peer starts where the header's PEER does.
    const col = lines[0].indexOf('PEER');
    assert.equal(lines[1].indexOf('Sam'), col);
    assert.equal(lines[2].indexOf('Jo'), col);
  });

  it('says so when nothing is online or nothing is registered', () => {
    assert.deepEqual(formatHuman({ event: 'online', items: [] }), ['no content is registered on the index server']);
    assert.match(formatHuman({ event: 'local', shares: [] })[0], /registered nothing/);
  });

  it('lists the sources of one content with a count', () => {
    const lines = formatHuman({ event: 'sources', contentName: 'Text.txt', items: items.slice(0, 1) });
    assert.equal(lines[0], '"Text.txt" is shared by 1 source:');
    assert.match(lines[2], /^Sam\s+127\.0\.0\.1:40001\s+12 B\s+abababababab…$/);
  });

  it('reports a finished download with its path, then that this peer is now a source', () => {
    const lines = formatHuman(downloaded({ shared: true }));
    assert.match(lines[0], /^saved "Text1\.txt" to \/tmp\/dl\/Text1\.txt \(12 B, sha256 abababababab…\) from Jo$/);
    assert.equal(lines[1], 'you are now a source of "Text1.txt"');
  });

  it('says so when a download came in clear (a source without a pin)', () => {
    const [saved] = formatHuman(downloaded({ encrypted: false }));
    assert.match(saved, /\(12 B, sha256 abababababab…, not encrypted\) from Jo$/);
  });

  it('says when a download ran with the whole-file check only, and names each source dropped for lying', () => {
    const lines = formatHuman(downloaded({ pieceChecked: false, refused: ['Eve (127.0.0.1:4000)'] }));
    assert.match(lines[0], /\(12 B, sha256 abababababab…, whole-file check only: no source gave piece hashes\) from Jo$/);
    assert.equal(lines[1], 'dropped source Eve (127.0.0.1:4000): it sent data or piece hashes that did not verify');
  });

  it('prints a failure as one line starting with "error:"', () => {
    const lines = formatHuman(errorEvent(new P2PError('NOT_FOUND', '"x.txt"'), 'S'));
    assert.deepEqual(lines, ['error: No peer shares that content: "x.txt"']);
  });

  it('keeps a failure on one line and escape sequences off the terminal, whatever another peer put in its message', () => {
    const remote = new P2PError('NOT_SHARED', 'peer "x" at 127.0.0.1:9: nope\nerror: forged second line\u001b[2J\u0007');
    const lines = formatHuman(errorEvent(remote, 'D'));
    assert.deepEqual(lines, ['error: That content is not shared by this peer: peer "x" at 127.0.0.1:9: nope\\x0aerror: forged second line\\x1b[2J\\x07']);
    const online = formatHuman({ event: 'online', items: [{ ...items[0], peerName: 'evil\r\u001b]0;title\u0007' }] });
    assert.ok(online.every((l) => !/[\u0000-\u001f\u007f-\u009f]/u.test(l)), online.join('\n'));
  });
});

describe('terminal peer: printers', () => {
  it('writes each event as exactly one JSON object with an "event" field', () => {
    const { out, text } = capture();
    const printer = new JsonPrinter(out);
    printer.print({ event: 'online', items });
    printer.print(errorEvent(new P2PError('NAME_TAKEN'), 'R', 'N <new peer name>'));
    printer.print({ event: 'deregistered', contentName: 'line\nbreak' });
    const lines = text().split('\n');
    assert.equal(lines.pop(), '', 'output ends with a newline');
    assert.equal(lines.length, 3);
    const parsed = lines.map((l) => JSON.parse(l) as { event: string });
    assert.deepEqual(
      parsed.map((p) => p.event),
      ['online', 'error', 'deregistered'],
    );
    assert.deepEqual(parsed[1], {
      event: 'error',
      code: 'NAME_TAKEN',
      message: 'That peer name is already used by another peer; choose another peer name',
      command: 'R',
      retry: 'N <new peer name>',
    });
  });

  it('keeps JSON lines free of raw newlines whatever the names hold', () => {
    assert.ok(!jsonLine({ event: 'deregistered', contentName: 'a\nb\r\u2028' }).includes('\n'));
  });

  it('prints progress on a pipe once per tenth, not once per chunk', () => {
    const { out, text } = capture();
    const printer = new HumanPrinter(out, false);
    for (let received = 0; received <= 1000; received += 10) printer.print(progress(received, 1000));
    const lines = text().trimEnd().split('\n');
    assert.equal(lines.length, 11, lines.join('\n'));
    assert.match(lines[0], /downloading "big\.bin": 0% \(0 B of 1000 B\) at 2\.0 KiB\/s from 2 sources/);
    assert.match(lines[10], /100%/);
  });

  it('leaves out the rate and the sources while they are unknown or gone', () => {
    const lines = formatHuman({ event: 'progress', contentName: 'a.bin', received: 0, total: 10, bytesPerSecond: 0, sources: 0 });
    assert.deepEqual(lines, ['downloading "a.bin": 0% (0 B of 10 B)']);
  });

  it('rewrites one progress line on a terminal and replaces it with the next message', () => {
    const { out, text } = capture();
    const printer = new HumanPrinter(out, true);
    printer.print(progress(10, 1000));
    printer.print(progress(20, 1000));
    assert.match(text(), /\r\x1b\[2Kdownloading "big\.bin": 2% [^\n]*$/, 'the latest report holds the line, which no newline ends');
    printer.print({ event: 'deregistered', contentName: 'x' });
    const shown = text();
    assert.equal(shown.split('\n').length, 2, 'progress never ends a line by itself');
    assert.ok(shown.endsWith('\r\x1b[2Kde-registered "x"\n'));
  });

  it('asks for another peer name after a clash in human mode only', () => {
    const human = capture();
    new HumanPrinter(human.out, false).askPeerName('Sam', 'Text.txt');
    assert.match(human.text(), /peer name "Sam" is used by another peer; type another peer name/);
    const json = capture();
    new JsonPrinter(json.out).askPeerName();
    assert.equal(json.text(), '');
  });
});
