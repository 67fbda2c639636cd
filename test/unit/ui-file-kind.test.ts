// Text-or-binary sniffing that decides how a downloaded file opens.
import * as assert from 'node:assert/strict';
import { looksLikeText, MAX_TEXT_EDITOR_BYTES, showAs } from '../../src/extension/view-model/file-kind';

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

describe('ui showAs: how a finished download is shown', () => {
  const text = Buffer.from('hello\n');
  it('opens small text in a text editor', () => {
    assert.equal(showAs('notes.txt', text.length, text, true), 'text');
  });
  it('reveals a binary file instead of opening a tab that cannot show it', () => {
    const elf = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]);
    assert.equal(showAs('program', elf.length, elf, true), 'reveal');
  });
  it('reveals text larger than an editor takes', () => {
    assert.equal(showAs('huge.log', MAX_TEXT_EDITOR_BYTES + 1, text, false), 'reveal');
  });
  it('opens images in their own editor, whatever their bytes, while they are not huge', () => {
    assert.equal(showAs('photo.png', 1000, Buffer.from([0x89, 0x50, 0, 0]), false), 'editor');
    assert.equal(showAs('photo.png', MAX_TEXT_EDITOR_BYTES + 1, Buffer.from([0x89, 0x50, 0, 0]), false), 'reveal');
  });
});
