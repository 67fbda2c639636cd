// Reads a dropped 'text/uri-list' (RFC 2483) into local file paths, without vscode: anything else dropped is refused, not guessed at.
import { fileURLToPath } from 'node:url';
import { P2PError } from '../../protocol/errors';
import { plural } from '../../common/plural';
import { MAX_FILES_AT_ONCE } from './selection';

/** A drop's text is read whole; beyond this it is not a list of files a person dragged. */
export const MAX_URI_LIST_CHARS = 4 * 1024 * 1024;

/**
 * file: URIs only (a drop can come from a web page too); comments (#) and blank lines skipped;
 * repeats once; at most MAX_FILES_AT_ONCE. Throws BAD_PATH naming what was refused.
 */
export function pathsFromUriList(text: string): string[] {
  if (text.length > MAX_URI_LIST_CHARS) throw new P2PError('BAD_PATH', `the dropped list is larger than ${MAX_URI_LIST_CHARS} characters`);
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length > MAX_FILES_AT_ONCE) {
    throw new P2PError('BAD_PATH', `${plural(lines.length, 'item')} were dropped; at most ${MAX_FILES_AT_ONCE} can be shared at once`);
  }
  const paths: string[] = [];
  for (const line of lines) {
    let p: string;
    try {
      if (!/^file:/i.test(line)) throw new Error('not a file: URI');
      p = fileURLToPath(line);
    } catch {
      throw new P2PError('BAD_PATH', 'only files on this machine can be shared; something else was dropped');
    }
    if (!paths.includes(p)) paths.push(p);
  }
  return paths;
}
