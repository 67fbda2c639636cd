// The command line of p2p-peer: options, environment defaults and the --help text; BAD_SETTING for bad values.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { digitsValue, isWholeNumberIn } from '../common/numbers';
import { P2PError } from '../protocol/errors';
import { validatePeerName } from '../protocol/names';
import { formatAddressList, parseAddressList, type HostPort } from '../peer/address';
import { MENU } from './commands';
import { formatBytes } from '../common/byte-units';
import { DEFAULT_MAX_DOWNLOAD_BYTES } from '../peer/download/downloader';
import { defaultStatePath } from './state-file';

export const PROGRAM = 'p2p-peer';
export const DEFAULT_INDEX = '127.0.0.1:7870';
export const DEFAULT_DOWNLOAD_DIR = 'downloads';
export const DEFAULT_INDEX_TIMEOUT_MS = 500;
const MAX_INDEX_TIMEOUT_MS = 60_000;

export interface CliOptions {
  /** The first index server (the one tried first). */
  index: HostPort;
  /** Every index server given, in order: --index repeated or comma-separated (at most MAX_INDEX_SERVERS). */
  indexes: HostPort[];
  /** The index list as text, "a:7870,[::1]:7870"; shown to the user and passed to the engine. */
  indexText: string;
  peerName: string;
  /** Content server TCP port; 0 = any free port. */
  port: number;
  /** Absolute download folder. */
  dir: string;
  json: boolean;
  shareDownloads: boolean;
  verbose: boolean;
  /** Wait for the index server's answer before the retry (which waits twice as long). */
  indexTimeoutMs: number;
  /** Bytes per second each upload connection may send; 0 = unlimited. */
  uploadLimit: number;
  /** Largest download accepted; undefined = the engine's default (DEFAULT_MAX_DOWNLOAD_BYTES). */
  maxDownloadBytes?: number;
  /** The state file that keeps the peer's secret across restarts; undefined with --state none (a new secret each start). */
  stateFile?: string;
  /** Download only from sources that offer TLS. */
  requireEncryption: boolean;
}

export type Invocation = { action: 'run'; options: CliOptions } | { action: 'help' } | { action: 'version' };

export interface InvocationContext {
  env: Record<string, string | undefined>;
  cwd: string;
  /** The OS user name, or undefined when the system has none for this process. */
  userName: () => string | undefined;
  /** The home folder, under which the default state file lives; default os.homedir(). */
  homeDir?: () => string;
}

const OPTIONS = {
  index: { type: 'string', multiple: true },
  name: { type: 'string' },
  port: { type: 'string' },
  dir: { type: 'string' },
  'index-timeout': { type: 'string' },
  'upload-limit': { type: 'string' },
  'max-download': { type: 'string' },
  state: { type: 'string' },
  json: { type: 'boolean' },
  'no-share-downloads': { type: 'boolean' },
  'require-encryption': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

function bad(detail: string): P2PError {
  return new P2PError('BAD_SETTING', detail);
}

/** parseArgs reports problems as TypeErrors with long texts; say the same thing in one short line. */
function explainParseArgsError(err: unknown): P2PError {
  const e = err as { code?: string; message?: string };
  const quoted = /'([^']*)'/u.exec(e.message ?? '')?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return bad(`unknown option ${quoted ?? ''}`.trim());
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return bad(`unexpected argument "${quoted ?? ''}"; commands are read from standard input, not from the command line`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = (quoted ?? 'the option').split(' ')[0];
      if (/does not take an argument/u.test(e.message ?? '')) return bad(`${option} takes no value`);
      if (/ambiguous/u.test(e.message ?? '')) {
        return bad(`${option} needs a value; write ${option}=<value> for a value that starts with "-"`);
      }
      return bad(`${option} needs a value`);
    }
    default:
      return bad((e.message ?? String(err)).split('\n')[0]);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function parsePort(text: string): number {
  const port = digitsValue(text, 5);
  if (!isWholeNumberIn(port, 0, 65535)) {
    throw bad(`--port must be a whole number from 0 to 65535 (0 = any free port), not "${text}"`);
  }
  return port;
}

function parseIndexTimeout(text: string): number {
  const ms = digitsValue(text, 6);
  if (!isWholeNumberIn(ms, 1, MAX_INDEX_TIMEOUT_MS)) {
    throw bad(`--index-timeout must be a whole number of milliseconds from 1 to ${MAX_INDEX_TIMEOUT_MS}, not "${text}"`);
  }
  return ms;
}

const RATE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "0" (unlimited), "65536", "512K", "2M", "1G": bytes per second, binary multiples. */
function parseUploadLimit(text: string): number {
  const m = /^(\d{1,12})([kmg]?)$/iu.exec(text.trim());
  const bytes = m ? Number(m[1]) * RATE_UNITS[m[2].toLowerCase()] : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw bad(`--upload-limit must be bytes per second as a whole number, optionally with K, M or G (e.g. 512K), or 0 for no limit, not "${text}"`);
  }
  return bytes;
}

/** "64G", "500M", "1T", "1048576": the largest download, binary multiples, above 0. */
function parseMaxDownload(text: string): number {
  const m = /^(\d{1,15})([kmgt]?)$/iu.exec(text.trim());
  const bytes = m ? Number(m[1]) * RATE_UNITS[m[2].toLowerCase()] : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw bad(`--max-download must be a size in bytes above 0, optionally with K, M, G or T (e.g. 64G), not "${text}"`);
  }
  return bytes;
}

/** --state FILE, --state none, or the default under $XDG_STATE_HOME (docs/cli.md, "Identity"). */
function pickStateFile(text: string | undefined, ctx: InvocationContext): string | undefined {
  if (text === undefined) return defaultStatePath(ctx.env, ctx.homeDir?.());
  if (text.trim() === '') throw bad('--state is empty; give the state file, or none for a new identity at each start');
  if (text === 'none') return undefined;
  return path.resolve(ctx.cwd, text);
}

function pickPeerName(fromOption: string | undefined, ctx: InvocationContext): string {
  const [text, origin] =
    fromOption !== undefined
      ? [fromOption, '--name']
      : nonEmpty(ctx.env.P2P_PEER_NAME) !== undefined
        ? [ctx.env.P2P_PEER_NAME!, 'P2P_PEER_NAME']
        : [ctx.userName(), 'the user name'];
  if (fromOption !== undefined && fromOption.trim() === '') {
    throw bad('--name is empty; give a peer name, e.g. --name Sam');
  }
  if (text === undefined || text === '') {
    throw bad('no peer name: this system has no user name for this process; give one with --name');
  }
  try {
    return validatePeerName(text);
  } catch (err) {
    throw bad(`${origin}: ${(err as Error).message}`);
  }
}

function readOptionValues(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw explainParseArgsError(err);
  }
}

/** Reads argv (without node and script) and the environment; throws BAD_SETTING with one clear sentence. */
export function parseInvocation(argv: readonly string[], ctx: InvocationContext): Invocation {
  const values = readOptionValues(argv);
  if (values.help) return { action: 'help' };
  if (values.version) return { action: 'version' };

  const indexOrigin = values.index !== undefined ? '--index' : 'P2P_INDEX';
  // --index again adds a server, and each may be a comma-separated list: the same list either way.
  const indexes = parseAddressList(values.index ?? nonEmpty(ctx.env.P2P_INDEX) ?? DEFAULT_INDEX, { what: indexOrigin });

  const dirText = values.dir ?? DEFAULT_DOWNLOAD_DIR;
  if (dirText.trim() === '') throw bad('--dir is empty; give the folder downloads are saved to');

  return {
    action: 'run',
    options: {
      index: indexes[0],
      indexes,
      indexText: formatAddressList(indexes),
      peerName: pickPeerName(values.name, ctx),
      port: values.port === undefined ? 0 : parsePort(values.port),
      dir: path.resolve(ctx.cwd, dirText),
      json: values.json ?? false,
      shareDownloads: !values['no-share-downloads'],
      verbose: values.verbose ?? false,
      indexTimeoutMs: values['index-timeout'] === undefined ? DEFAULT_INDEX_TIMEOUT_MS : parseIndexTimeout(values['index-timeout']),
      uploadLimit: values['upload-limit'] === undefined ? 0 : parseUploadLimit(values['upload-limit']),
      maxDownloadBytes: values['max-download'] === undefined ? undefined : parseMaxDownload(values['max-download']),
      stateFile: pickStateFile(values.state, ctx),
      requireEncryption: values['require-encryption'] ?? false,
    },
  };
}

/** The --help text. */
export function usageText(): string {
  const width = Math.max(...MENU.map((m) => m.usage.length));
  return [
    `Usage: ${PROGRAM} [options]`,
    '',
    'A P2P Share peer in the terminal. Reads one menu command per line from standard input.',
    '',
    'Options:',
    `  --index <host:port>    index server (default ${DEFAULT_INDEX}, env P2P_INDEX); repeat it or separate`,
    '                         addresses with commas to name several: the first that answers is used,',
    '                         the next when it stops answering',
    '  --name <peer name>     your peer name (default the user name, env P2P_PEER_NAME)',
    '  --port <port>          TCP port of your content server (default 0 = any free port)',
    `  --dir <folder>         download folder (default ./${DEFAULT_DOWNLOAD_DIR})`,
    '  --json                 one JSON object per line on stdout (for programs)',
    '  --no-share-downloads   do not register downloaded files as a source',
    `  --index-timeout <ms>   wait for an index answer before the one retry, which waits twice as long (default ${DEFAULT_INDEX_TIMEOUT_MS})`,
    '  --upload-limit <rate>  bytes per second each upload may send, e.g. 512K or 2M (default 0 = no limit)',
    `  --max-download <max>   refuse content claimed larger than this, e.g. 500M or 1T (default ${formatBytes(DEFAULT_MAX_DOWNLOAD_BYTES)})`,
    '  --state <file>|none    keeps your identity, so a restart gets your peer name back',
    '                         (default $XDG_STATE_HOME/p2p-share/p2p-peer.json; none = a new one each start)',
    '  --require-encryption   download only from sources that offer TLS; refuse the others',
    '  -v, --verbose          log engine details to stderr',
    '  -h, --help             show this help',
    '  -V, --version          show the version',
    '',
    'Commands (letters are case-insensitive; quote names with spaces: "my file.txt"):',
    ...MENU.map((m) => `  ${m.usage.padEnd(width)}  ${m.description}`),
    '',
    'End of input quits like Q, after every command before it has finished.',
  ].join('\n');
}
