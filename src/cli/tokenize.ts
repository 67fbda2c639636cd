// Splits one menu input line into arguments: white space separates, double quotes hold spaces.
import { P2PError } from '../protocol/errors';

/**
 * Splits `line` into words. Rules (docs/cli.md):
 * - runs of white space separate words;
 * - a double-quoted part may hold white space and joins the word it touches (`a"b c"` is `ab c`);
 * - inside quotes, `\"` is a quote and `\\` a backslash; every other backslash is literal, so Windows
 *   paths such as `C:\dir\file.txt` need no doubling, quoted or not;
 * - `""` is an empty word.
 * Throws BAD_COMMAND for a quote that is never closed.
 */
export function tokenizeCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoteStart = -1;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoteStart >= 0) {
      if (ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
        word += line[++i];
      } else if (ch === '"') {
        quoteStart = -1;
      } else {
        word += ch;
      }
    } else if (ch === '"') {
      quoteStart = i;
      inWord = true;
    } else if (/\s/u.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quoteStart >= 0) {
    throw new P2PError('BAD_COMMAND', `the quote at column ${quoteStart + 1} is never closed`);
  }
  if (inWord) words.push(word);
  return words;
}

/** Quotes `word` only when it needs it, so that tokenizeCommandLine(quoteWord(w)) gives back [w]. */
export function quoteWord(word: string): string {
  if (word !== '' && !/[\s"]/u.test(word)) return word;
  return `"${word.replace(/\\(?=\\|"|$)/gu, '\\\\').replace(/"/gu, '\\"')}"`;
}
