// The menu grammar: turns one input line into a typed command, or a BAD_COMMAND/BAD_NAME error saying what is wrong.
import { P2PError } from '../protocol/errors';
import { validateContentName, validatePeerName } from '../protocol/names';
import { MIN_HASH_PREFIX, isHashPrefix } from '../peer/versions';
import { MAX_NAME_BYTES } from '../protocol/messages';
import { cutToWidth } from './human-format';
import { tokenizeCommandLine } from './tokenize';

export type Command =
  | { kind: 'online'; more: boolean }
  | { kind: 'find'; text?: string }
  | { kind: 'local' }
  | { kind: 'register'; path: string; contentName?: string }
  | { kind: 'deregister'; contentName: string }
  | { kind: 'download'; contentName: string; fromPeer?: string; sha256?: string }
  | { kind: 'search'; contentName: string }
  | { kind: 'rename'; peerName: string }
  | { kind: 'quit' }
  | { kind: 'help' };

export type CommandKind = Command['kind'];

/** One entry of the menu: its letter, its grammar and what it does (for H and docs/cli.md). */
export interface MenuEntry {
  letter: string;
  kind: CommandKind;
  usage: string;
  description: string;
}

export const MENU: readonly MenuEntry[] = [
  { letter: 'O', kind: 'online', usage: 'O [more]', description: 'online list: the registrations on the index server, a page at a time (more: the next page)' },
  { letter: 'L', kind: 'local', usage: 'L', description: 'list your own registrations' },
  { letter: 'R', kind: 'register', usage: 'R <path> [content name]', description: 'register a file (content name: the file name)' },
  { letter: 'T', kind: 'deregister', usage: 'T <content name>', description: 'de-register content' },
  { letter: 'D', kind: 'download', usage: 'D <content name> [from <peer>] [hash <prefix>]', description: 'download content (hash: which version); you become a source' },
  { letter: 'S', kind: 'search', usage: 'S <content name>', description: 'which peers share the content' },
  { letter: 'F', kind: 'find', usage: 'F [text]', description: 'find content whose name contains the text (no text: the next page)' },
  { letter: 'N', kind: 'rename', usage: 'N <new peer name>', description: 'change your peer name (re-registers everything)' },
  { letter: 'Q', kind: 'quit', usage: 'Q', description: 'de-register everything and quit' },
  { letter: 'H', kind: 'help', usage: 'H or ?', description: 'show this help' },
];

/** Words accepted besides the letters, for people who type them out of habit. */
const ALIASES: Record<string, CommandKind> = { '?': 'help', help: 'help', quit: 'quit', exit: 'quit' };

function usageOf(kind: CommandKind): string {
  return MENU.find((m) => m.kind === kind)!.usage;
}

function wrongArguments(kind: CommandKind, problem: string): P2PError {
  return new P2PError('BAD_COMMAND', `${problem}; usage: ${usageOf(kind)}`);
}

/** The menu letter of a command, as the user would type it (for error events and help). */
export function letterOf(kind: CommandKind): string {
  return MENU.find((m) => m.kind === kind)!.letter;
}

function kindOf(word: string): CommandKind | undefined {
  const lower = word.toLowerCase();
  if (ALIASES[lower]) return ALIASES[lower];
  return MENU.find((m) => m.letter.toLowerCase() === lower)?.kind;
}

/** Checks there are between min and max arguments; a surplus usually means a name with unquoted spaces. */
function expectArgs(kind: CommandKind, args: string[], min: number, max: number, what: string): void {
  if (args.length < min) throw wrongArguments(kind, `${letterOf(kind)} needs ${what}`);
  if (args.length > max) {
    throw wrongArguments(kind, `too many arguments for ${letterOf(kind)}; put a name with spaces in double quotes, as in "my file.txt"`);
  }
}

function commandFromWords(kind: CommandKind, args: string[]): Command {
  switch (kind) {
    case 'online':
      expectArgs(kind, args, 0, 1, 'no arguments, or "more"');
      if (args.length === 1 && args[0].toLowerCase() !== 'more') throw wrongArguments(kind, `O takes only "more" (the next page), not "${cutToWidth(args[0], 40)}"`);
      return { kind, more: args.length === 1 };
    case 'find':
      expectArgs(kind, args, 0, 1, 'the text to find');
      return args.length === 0 ? { kind } : { kind, text: searchText(args[0]) };
    case 'local':
    case 'quit':
    case 'help':
      expectArgs(kind, args, 0, 0, 'no arguments');
      return { kind };
    case 'register': {
      expectArgs(kind, args, 1, 2, 'the path of a file');
      if (args[0] === '') throw wrongArguments(kind, 'the path is empty');
      return args.length === 2
        ? { kind, path: args[0], contentName: validateContentName(args[1]) }
        : { kind, path: args[0] };
    }
    case 'deregister':
    case 'search':
      expectArgs(kind, args, 1, 1, 'a content name');
      return { kind, contentName: validateContentName(args[0]) };
    case 'download':
      return parseDownload(args);
    case 'rename':
      expectArgs(kind, args, 1, 1, 'the new peer name');
      return { kind, peerName: validatePeerName(args[0]) };
  }
}

/** The text of F: not empty, and short enough for one F request (a name's 255 bytes). */
function searchText(text: string): string {
  if (text === '') throw wrongArguments('find', 'the text to find is empty');
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_NAME_BYTES) throw wrongArguments('find', `the text to find is ${bytes} bytes; the limit is ${MAX_NAME_BYTES}`);
  return text;
}

/**
 * Parses one input line. Returns undefined for a blank line (nothing to do). The command letter is
 * case-insensitive. Throws BAD_COMMAND (unknown letter, wrong arguments, open quote) or BAD_NAME.
 */
export function parseCommand(line: string): Command | undefined {
  const words = tokenizeCommandLine(line);
  if (words.length === 0) return undefined;
  const [first, ...args] = words;
  const kind = kindOf(first);
  if (!kind) {
    const shown = first.length > 40 ? `${first.slice(0, 40)}…` : first;
    throw new P2PError('BAD_COMMAND', `"${shown}" is not a menu letter; type H for help`);
  }
  return commandFromWords(kind, args);
}

/**
 * Reads the answer to "choose another peer name": the whole line is the name (so spaces need no
 * quotes), but a fully quoted answer is unquoted. Returns undefined for a blank line (the user gave up).
 * Throws BAD_NAME for a name the protocol does not allow.
 */
export function parsePeerNameAnswer(line: string): string | undefined {
  const text = line.trim();
  if (text === '') return undefined;
  let name = text;
  if (text.startsWith('"')) {
    let words: string[] = [];
    try {
      words = tokenizeCommandLine(text);
    } catch {
      // An unbalanced quote is simply part of the name.
    }
    if (words.length === 1) name = words[0];
  }
  return validatePeerName(name);
}

/** D <content name> [from <peer>] [hash <prefix>]: each option a word and its value, in any order, once. */
function parseDownload(args: string[]): Command {
  expectArgs('download', args, 1, 5, 'a content name');
  const command: Extract<Command, { kind: 'download' }> = { kind: 'download', contentName: validateContentName(args[0]) };
  for (let i = 1; i < args.length; i += 2) {
    const word = args[i].toLowerCase();
    const value = args[i + 1];
    if ((word !== 'from' && word !== 'hash') || value === undefined || (word === 'from' ? command.fromPeer : command.sha256) !== undefined) {
      throw wrongArguments('download', 'after the content name only "from <peer>" and "hash <prefix>" may follow, each once');
    }
    if (word === 'from') command.fromPeer = validatePeerName(value);
    else if (isHashPrefix(value)) command.sha256 = value.toLowerCase();
    else throw wrongArguments('download', `the hash must be ${MIN_HASH_PREFIX} to 64 hex digits of the version's SHA-256, not "${value}"`);
  }
  return command;
}

function firstWord(line: string): string | undefined {
  try {
    return tokenizeCommandLine(line)[0];
  } catch {
    return undefined;
  }
}

/** True for a line that is a Q command. */
export function isQuitLine(line: string): boolean {
  try {
    return parseCommand(line)?.kind === 'quit';
  } catch {
    return false;
  }
}

/** True for a line whose first word is D (even one that does not parse). */
export function isDownloadLine(line: string): boolean {
  return firstWord(line)?.toLowerCase() === 'd';
}

/** The menu letter a failed line was meant as, when its first word is one. */
export function menuLetterOfLine(line: string): string | undefined {
  const w = firstWord(line)?.toUpperCase();
  return MENU.find((m) => m.letter === w)?.letter;
}
