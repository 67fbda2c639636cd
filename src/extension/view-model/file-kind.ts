// Decides from a file's first bytes and size how a finished download is shown: as text, in its own editor, or in the file manager.

/** Bytes worth reading to decide; VS Code's own binary sniffing looks at about as much. */
export const SNIFF_BYTES = 4096;

/**
 * True for UTF-8 (or UTF-16 with a byte order mark) text: no NUL byte and valid UTF-8 apart from a
 * multi-byte character cut off by the end of the sample.
 */
export function looksLikeText(sample: Uint8Array, sampleIsWholeFile = false): boolean {
  if (sample.length >= 2 && ((sample[0] === 0xff && sample[1] === 0xfe) || (sample[0] === 0xfe && sample[1] === 0xff))) return true;
  if (sample.includes(0)) return false;
  let i = 0;
  while (i < sample.length) {
    const b = sample[i];
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return false;
    if (i + need >= sample.length) return !sampleIsWholeFile; // a character cut by the end of the sample
    for (let k = 1; k <= need; k++) if ((sample[i + k] & 0xc0) !== 0x80) return false;
    i += need + 1;
  }
  return true;
}

/** Text larger than this opens in no editor usefully ("file is very large"): it is revealed instead. */
export const MAX_TEXT_EDITOR_BYTES = 50 * 1024 * 1024;

/** Kinds VS Code opens in an editor of its own (images, PDFs are not all; these are the common ones). */
const EDITOR_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.gif', '.webp', '.bmp', '.ico', '.svg']);

/**
 * 'text' opens in a text editor, 'editor' in the editor VS Code has for it (images), 'reveal' shows it
 * in the file manager: a large or binary file would open a tab that only says it cannot be shown.
 */
export function showAs(fileName: string, size: number, sample: Uint8Array, sampleIsWholeFile: boolean): 'text' | 'editor' | 'reveal' {
  const dot = fileName.lastIndexOf('.');
  const ext = dot > 0 ? fileName.slice(dot).toLowerCase() : '';
  if (EDITOR_EXTENSIONS.has(ext) && size <= MAX_TEXT_EDITOR_BYTES) return 'editor';
  if (size <= MAX_TEXT_EDITOR_BYTES && looksLikeText(sample, sampleIsWholeFile)) return 'text';
  return 'reveal';
}
