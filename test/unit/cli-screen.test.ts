// The terminal screen of human mode: a background line never lands inside the prompt or the progress line.
import * as assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { HumanPrinter } from '../../src/cli/printer';

const CLEAR_LINE = '\r\x1b[2K';

/** A terminal's stdout and stderr as one screen, in the order bytes reached it. */
function screen() {
  const writes: string[] = [];
  const stream = (name: string) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        writes.push(`${name}:${chunk.toString()}`);
        done();
      },
    });
  const out = Object.assign(stream('out'), { columns: 80 });
  return { out, err: stream('err'), writes };
}

describe('terminal screen', () => {
  it('clears the progress line before a background line and draws it again after', () => {
    const { out, err, writes } = screen();
    const printer = new HumanPrinter(out, true, { err, redrawPrompt: () => writes.push('prompt') });
    printer.print({ event: 'progress', contentName: 'big.bin', received: 1024, total: 4096, bytesPerSecond: 0, sources: 1 });
    writes.length = 0;
    printer.background('p2p-peer: error: something in the background');
    assert.deepEqual(writes, [
      `out:${CLEAR_LINE}`,
      'err:p2p-peer: error: something in the background\n',
      'out:downloading "big.bin": 25% (1.0 KiB of 4.0 KiB) from 1 source',
    ]);
  });

  it('after a background line with no progress showing, shows the prompt again', () => {
    const { out, err, writes } = screen();
    const printer = new HumanPrinter(out, true, { err, redrawPrompt: () => writes.push('prompt') });
    printer.print({ event: 'deregistered', contentName: 'Text.txt' });
    writes.length = 0;
    printer.background('p2p-peer: error: the index refused "Text.txt"');
    assert.deepEqual(writes, [`out:${CLEAR_LINE}`, 'err:p2p-peer: error: the index refused "Text.txt"\n', 'prompt']);
  });

  it('cuts table rows to the terminal width', () => {
    const { out, err, writes } = screen();
    out.columns = 50;
    const printer = new HumanPrinter(out, true, { err });
    printer.print({
      event: 'online',
      items: [{ peerName: 'Sam', contentName: 'x'.repeat(128), host: '127.0.0.1', port: 7000, size: 10, sha256: '0'.repeat(64) }],
    });
    const lines = writes.join('').replace(/^out:/u, '').replace(CLEAR_LINE, '').split('\n');
    for (const l of lines) assert.ok(l.length <= 50, `${l.length}: ${l}`);
    assert.ok(lines[1].includes('…'), lines[1]);
  });
});
