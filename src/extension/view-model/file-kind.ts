// Decides from a file's first bytes whether VS Code should open it as text or hand it to its default editor.

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
