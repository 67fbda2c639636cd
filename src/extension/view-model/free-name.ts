// The next content name nobody in this peer uses yet: "notes.md" -> "notes (2).md", as file managers name a copy.
import { MAX_NAME_BYTES } from '../../protocol/messages';
import { cutUtf8 } from '../../protocol/wire';
import { isValidContentName } from '../../protocol/names';

/** Past this many tries the caller has a stranger problem than a clash; it gets undefined and asks the user. */
const MAX_TRIES = 10_000;

/** Splits "notes.md" into "notes" and ".md"; a leading dot (".bashrc") is part of the base, not an extension. */
export function splitExtension(name: string): { base: string; ext: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return { base: name, ext: '' };
  return { base: name.slice(0, dot), ext: name.slice(dot) };
}

/**
 * "name (N).ext" for the smallest N from 2 that `taken` refuses and the content-name rules accept. A base
 * that already ends in " (N)" counts on from N, so a copy of "notes (2).md" is "notes (3).md". A long
 * base is shortened (at a character boundary) so the result keeps within the protocol's name limit.
 */
export function nextFreeName(name: string, taken: (candidate: string) => boolean): string | undefined {
  const { base: whole, ext } = splitExtension(name);
  const numbered = /^(.*) \((\d{1,6})\)$/u.exec(whole);
  const base = numbered ? numbered[1] : whole;
  const first = numbered ? Number(numbered[2]) + 1 : 2;
  for (let n = first; n < first + MAX_TRIES; n++) {
    const suffix = ` (${n})${ext}`;
    const room = MAX_NAME_BYTES - Buffer.byteLength(suffix, 'utf8');
    if (room <= 0) return undefined;
    const candidate = `${cutUtf8(base, room).trimEnd()}${suffix}`;
    if (!isValidContentName(candidate)) return undefined;
    if (!taken(candidate)) return candidate;
  }
  return undefined;
}
