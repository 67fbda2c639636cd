// Text-or-binary sniffing that decides how a downloaded file opens.
import * as assert from 'node:assert/strict';
import { looksLikeText } from '../../src/extension/view-model/file-kind';

describe('ui file kind', () => {
  it('takes ASCII and UTF-8 for text', () => {
    assert.equal(looksLikeText(Buffer.from('hello\nworld\n')), true);
    assert.equal(looksLikeText(Buffer.from('naïve 日本語 🎉')), true);
    assert.equal(looksLikeText(Buffer.alloc(0)), true);
  });

  it('takes a NUL byte or invalid UTF-8 for binary', () => {
    assert.equal(looksLikeText(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00])), false);
    assert.equal(looksLikeText(Buffer.from([0x41, 0xff, 0x41])), false);
    assert.equal(looksLikeText(Buffer.from([0xc3, 0x41])), false);
  });

  it('forgives a character cut by the end of a sample, not by the end of the file', () => {
    const cut = Buffer.from('ab日').subarray(0, 4);
    assert.equal(looksLikeText(cut, false), true);
    assert.equal(looksLikeText(cut, true), false);
  });

  it('takes UTF-16 with a byte order mark for text', () => {
    assert.equal(looksLikeText(Buffer.from([0xff, 0xfe, 0x41, 0x00])), true);
  });
});
