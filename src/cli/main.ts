// Entry of p2p-peer, the terminal peer: reads options, starts the peer engine and feeds stdin lines to the menu loop.
import * as os from 'node:os';
import * as readline from 'node:readline';
import { escapeInvisible } from '../common/control-escape';
import type { LogLevel } from '../common/log-level';
import { osUserName } from '../common/os-user';
import { packageVersion } from '../common/package-version';
import { Peer } from '../peer';
import { toP2PError } from '../protocol/errors';
import { indexSilentDetail } from './error-text';
import { errorEvent } from './events';
import { shortMenuLine } from './human-format';
import { parseInvocation, PROGRAM, usageText, type CliOptions } from './options';
import { HumanPrinter, JsonPrinter, type Printer } from './printer';
import { MenuSession, type MenuPeer } from './session';
import { loadPeerIdentity } from './state-file';

/** Exit status for bad options, as most command-line programs use it. */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;
const PROMPTS = { command: 'p2p> ', 'peer-name': 'peer name> ' } as const;
/**
 * Tries of one index request: 0.5 s + 1 s with the default first wait, so a silent index fails a
 * command in seconds (the engine's default of 5 takes 15.5 s) and no retry warnings are logged.
 */
const INDEX_TRIES = 2;

/**
 * Engine log lines for stderr. With --json every warning, for the program reading us. In human mode
 * the menu itself reports what a person must know (a silent index, a failed command, why a download
 * is not shared), so only errors show unless --verbose: warnings would say the same again in jargon.
 */
function engineLog(options: CliOptions, human: HumanPrinter | undefined): (level: LogLevel, message: string) => void {
  return (level, message) => {
    // Engine lines quote peer names and the E texts of sources: escaped like stdout, or a source could write to the terminal.
    const shown = options.verbose || level === 'error' || (options.json && level === 'warn');
    if (!shown) return;
    const line = `${PROGRAM}: ${level}: ${escapeInvisible(message)}`;
    if (human) human.background(line);
    else process.stderr.write(`${line}\n`);
  };
}

async function exitAfterFlush(printer: Printer | undefined, code: number): Promise<never> {
  await printer?.flush();
  process.exit(code);
}

async function runPeer(options: CliOptions, version: string): Promise<never> {
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !options.json;
  // The prompt is readline's; the printer only asks for it again, and only while the menu waits.
  let redrawPrompt = (): void => undefined;
  const human = options.json
    ? undefined
    : new HumanPrinter(process.stdout, interactive, { err: process.stderr, redrawPrompt: () => redrawPrompt() });
  const printer: Printer = human ?? new JsonPrinter(process.stdout);
  const log = engineLog(options, human);

  // Nobody reads our output any more: quit as if interrupted rather than crash on EPIPE.
  let session: MenuSession | undefined;
  process.stdout.on('error', () => (session ? session.interrupt('SIGPIPE') : process.exit(128 + os.constants.signals.SIGPIPE)));

  // A signal before the engine runs: nothing is registered yet, so just leave.
  const earlySignal = (signal: NodeJS.Signals) => process.exit(128 + os.constants.signals[signal]);
  process.once('SIGINT', earlySignal);
  process.once('SIGTERM', earlySignal);

  let peer: Peer;
  try {
    // Before the engine: a state file that cannot be trusted stops the start, rather than a new identity silently replacing it.
    const identity = options.stateFile === undefined ? undefined : loadPeerIdentity(options.stateFile);
    if (identity) log('info', `${identity.created ? 'new identity saved in' : 'identity read from'} ${options.stateFile}`);
    peer = await Peer.start({
      secret: identity?.secret,
      peerName: options.peerName,
      index: options.indexText,
      listenPort: options.port,
      downloadFolder: options.dir,
      shareDownloads: options.shareDownloads,
      requestTimeoutMs: options.indexTimeoutMs,
      requestTries: INDEX_TRIES,
      uploadRateLimit: options.uploadLimit,
      maxDownloadBytes: options.maxDownloadBytes,
      requireEncryption: options.requireEncryption,
      log,
    });
  } catch (err) {
    printer.print(errorEvent(toP2PError(err, 'starting the peer')));
    return exitAfterFlush(printer, EXIT_FAILURE);
  }
  process.off('SIGINT', earlySignal);
  process.off('SIGTERM', earlySignal);
  // A lost share is news a person must have whatever -v says (--json gets an error event instead).
  peer.on('share-lost', (contentName, reason) => human?.background(`${PROGRAM}: warn: stopped sharing "${escapeInvisible(contentName)}": ${escapeInvisible(reason.message)}`));

  const rl = readline.createInterface({
    input: process.stdin,
    output: interactive ? process.stdout : undefined,
    terminal: interactive,
    crlfDelay: Infinity,
  });
  const menuPeer: MenuPeer = peer;
  session = new MenuSession({
    peer: menuPeer,
    peerName: options.peerName,
    printer,
    json: options.json,
    downloadFolder: options.dir,
    cwd: process.cwd(),
    shareDownloads: options.shareDownloads,
    // The server in use, which a failover changes: failures and states name the one that was asked.
    failure: {
      get indexText() {
        return peer.indexAddress;
      },
      indexTries: INDEX_TRIES,
      indexTimeoutMs: options.indexTimeoutMs,
    },
    onIdle: interactive
      ? (waitingFor) => {
          rl.setPrompt(PROMPTS[waitingFor]);
          rl.prompt(true);
        }
      : undefined,
  });
  const running = session;
  if (interactive) redrawPrompt = () => (running.idle ? rl.prompt(true) : undefined);
  process.on('SIGINT', () => running.interrupt('SIGINT'));
  process.on('SIGTERM', () => running.interrupt('SIGTERM'));
  // With a terminal, readline takes Ctrl-C itself instead of the process getting SIGINT.
  rl.on('SIGINT', () => running.interrupt('SIGINT'));

  const silent = peer.state === 'unreachable';
  printer.print({
    event: 'ready',
    peerName: options.peerName,
    index: peer.indexAddress,
    ...(options.indexes.length > 1 ? { indexes: options.indexText } : {}),
    port: peer.listenPort,
    folder: options.dir,
    shareDownloads: options.shareDownloads,
    version,
    ...(silent ? { indexProblem: `index server ${indexSilentDetail(running.failure)}` } : {}),
  });
  running.reportState(peer.state, peer.stateDetail, silent);
  if (interactive) {
    human?.printLine(shortMenuLine());
    rl.setPrompt(PROMPTS.command);
    rl.prompt();
  }
  rl.on('line', (line) => running.acceptLine(line));
  // A terminal that goes away (EIO) ends the input like Ctrl-D would.
  process.stdin.on('error', () => running.endInput());
  rl.on('close', () => running.endInput());

  const code = await running.done;
  rl.close();
  return exitAfterFlush(printer, code);
}

async function main(): Promise<void> {
  const version = packageVersion();
  let invocation;
  try {
    invocation = parseInvocation(process.argv.slice(2), { env: process.env, cwd: process.cwd(), userName: osUserName });
  } catch (err) {
    process.stderr.write(`${PROGRAM}: ${escapeInvisible(toP2PError(err).message)} (see ${PROGRAM} --help)\n`);
    process.exit(EXIT_USAGE);
  }
  if (invocation.action === 'help') {
    process.stdout.write(`${usageText()}\n`);
    return;
  }
  if (invocation.action === 'version') {
    process.stdout.write(`${PROGRAM} ${version}\n`);
    return;
  }
  await runPeer(invocation.options, version);
}

main().catch((err: unknown) => {
  // A bug, not a user error: say so on stderr and fail.
  process.stderr.write(`${PROGRAM}: ${escapeInvisible(toP2PError(err).message)}\n${(err as Error)?.stack ?? ''}\n`);
  process.exit(EXIT_FAILURE);
});
