// Download progress text and the increments fed to a VS Code progress notification; byte and time units.
import * as assert from 'node:assert/strict';
import type { DownloadProgress } from '../../src/peer/api';
import { formatBytes, formatExactBytes, formatRate } from '../../src/common/byte-units';
import { plural } from '../../src/common/plural';
import { ProgressReporter, formatDuration, formatProgress, percentOf } from '../../src/extension/view-model/progress-text';

function progress(received: number, total: number, bytesPerSecond = 0, sources = 1): DownloadProgress {
  return { contentName: 'x', received, total, bytesPerSecond, sources };
}

describe('ui progress: units', () => {
  it('formats byte counts the way VS Code shows sizes', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1258291), '1.2 MiB');
    assert.equal(formatBytes(52 * 1024 * 1024), '52 MiB');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
    assert.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB'); // rounding carries into the next unit
    assert.equal(formatBytes(-1), '? B');
  });

  it('formats exact counts, rates, durations and plurals', () => {
    assert.equal(formatExactBytes(1234567), '1,234,567 bytes');
    assert.equal(formatExactBytes(1), '1 byte');
    assert.equal(formatRate(870400), '850 KiB/s');
    assert.equal(formatDuration(8.2), '9 s');
    assert.equal(formatDuration(125), '2 min 5 s');
    assert.equal(formatDuration(120), '2 min');
    assert.equal(formatDuration(3840), '1 h 4 min');
    assert.equal(plural(1, 'source'), '1 source');
    assert.equal(plural(2, 'source'), '2 sources');
  });
});

describe('ui progress: message', () => {
  it('shows percent, amounts, speed, sources and time left', () => {
    const text = formatProgress(progress(1258291, 3 * 1024 * 1024, 870400, 2));
    // 1258291 of 3145728 is 39.99...%: never rounded up, so 100% means complete.
    assert.equal(text, '39% · 1.2 MiB of 3.0 MiB · 850 KiB/s · 2 sources · 3 s left');
  });

  it('says it is waiting before the first bytes and before any source answers', () => {
    assert.equal(formatProgress(progress(0, 2048, 0, 0)), '0% · 0 B of 2.0 KiB · waiting for data · no source yet');
  });

  it('counts an empty content as complete', () => {
    assert.equal(percentOf(0, 0), 100);
    assert.equal(percentOf(5, 10), 50);
    assert.equal(percentOf(20, 10), 100);
  });
});

describe('ui progress: notification increments', () => {
  it('adds up to the percent received, never more than 100', () => {
    let t = 0;
    const r = new ProgressReporter(250, () => t);
    let shown = 0;
    for (const received of [0, 10, 25, 25, 60, 100]) {
      t += 1000;
      const step = r.next(progress(received, 100, 10));
      if (step) shown += step.increment;
      assert.equal(shown, received);
    }
    assert.equal(r.percent, 100);
  });

  it('starts a resumed download at what was already there', () => {
    const r = new ProgressReporter(250, () => 0);
    assert.equal(r.next(progress(70, 100))?.increment, 70);
  });

  it('does not flood: same percent within the interval gives no step', () => {
    let t = 0;
    const r = new ProgressReporter(250, () => t);
    assert.ok(r.next(progress(10, 100, 5)));
    t += 100;
    assert.equal(r.next(progress(10, 100, 6)), undefined);
    t += 300;
    const later = r.next(progress(10, 100, 7));
    assert.ok(later);
    assert.equal(later.increment, 0);
  });

  it('never goes backwards when the engine reports less (a source restarted a range)', () => {
    let t = 0;
    const r = new ProgressReporter(0, () => (t += 1000));
    r.next(progress(50, 100));
    const step = r.next(progress(40, 100, 1));
    assert.equal(step?.increment ?? 0, 0);
    assert.equal(r.percent, 50);
  });
});
