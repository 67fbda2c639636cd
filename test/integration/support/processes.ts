// The shipped index server and terminal peer (dist/*.js) as real child processes, driven through their output lines.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliEvent, CliEventName } from '../../../src/cli/events';
import { IndexServerProcess, LineProcess } from '../../support/cli';

export { IndexServerProcess };

/** The repo root: the nearest folder above this file (compiled into out/ or not) that holds package.json. */
export const REPO_ROOT = findRepoRoot(__dirname);

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const INDEX_SERVER_JS = path.join(REPO_ROOT, 'dist', 'index-server.js');
const PEER_CLI_JS = path.join(REPO_ROOT, 'dist', 'peer-cli.js');

/** Generous: two cores, and other suites may be running at the same time. */
export const START_TIMEOUT_MS = 30000;
export const COMMAND_TIMEOUT_MS = 60000;

/**
 * The environment of every child: nothing of the runner's P2P_* settings, and Node mode when the
 * host is Electron (desktop VS Code's process.execPath).
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };
  for (const key of Object.keys(env)) if (key.startsWith('P2P_INDEX') || key === 'P2P_PEER_NAME') delete env[key];
  return env;
}

function requireBundle(file: string): string {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run node scripts/bundle.js first`);
  return file;
}

/** Starts `dist/index-server.js --port 0 ...args` and resolves once it logs the UDP address it listens on. */
export function startIndexServer(args: string[] = []): Promise<IndexServerProcess> {
  return IndexServerProcess.start(args, { entry: requireBundle(INDEX_SERVER_JS), env: childEnv(), timeoutMs: START_TIMEOUT_MS });
}

export interface TerminalPeerOptions {
  index: string;
  name: string;
  /** The terminal peer's download folder (--dir). */
  dir: string;
}

type EventOf<N extends CliEventName> = Extract<CliEvent, { event: N }>;

/** A command the terminal peer answered with an error event; `code` is the P2PError code. */
export class TerminalPeerError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly command: string,
  ) {
    super(`terminal peer: "${command}" failed with ${code}: ${detail}`);
  }
}

/** Events that report progress or background news rather than finish a command. */
const NOT_A_RESULT = new Set<string>(['progress', 'state']);

/**
 * The real p2p-peer in --json mode. It runs input lines one at a time, in order, and finishes each
 * with exactly one result event (or an error event), so the next result line answers the last command.
 */
export class TerminalPeer extends LineProcess {
  ready!: EventOf<'ready'>;

  private constructor(
    readonly name: string,
    readonly dir: string,
    args: string[],
  ) {
    super(`p2p-peer ${name}`, args, { cwd: dir, env: childEnv() });
  }

  static async start(options: TerminalPeerOptions): Promise<TerminalPeer> {
    fs.mkdirSync(options.dir, { recursive: true });
    const args = [requireBundle(PEER_CLI_JS), '--index', options.index, '--name', options.name, '--dir', options.dir, '--port', '0', '--json'];
    // A test's terminal peer needs no identity across restarts, and must not write to the runner's ~/.local/state.
    args.push('--state', 'none');
    const peer = new TerminalPeer(options.name, options.dir, args);
    try {
      const first = parse(await peer.nextLine((l) => ['ready', 'error'].includes(parse(l).event), { timeoutMs: START_TIMEOUT_MS }));
      if (first.event !== 'ready') throw new Error(`${peer.label} did not start: ${JSON.stringify(first)}\n${peer.recentOutput()}`);
      peer.ready = first;
    } catch (err) {
      await peer.kill();
      throw err;
    }
    return peer;
  }

  /** Sends one menu line and resolves with its result; an error event rejects with TerminalPeerError. */
  async command(line: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<CliEvent> {
    this.send(line);
    const ev = parse(await this.nextLine((l) => !NOT_A_RESULT.has(parse(l).event), { timeoutMs }));
    if (ev.event === 'error') throw new TerminalPeerError(ev.code, ev.message, line);
    return ev;
  }

  /** Sends a line and checks that the result is the expected kind of event. */
  async expect<N extends CliEventName>(line: string, event: N, timeoutMs?: number): Promise<EventOf<N>> {
    const ev = await this.command(line, timeoutMs);
    if (ev.event !== event) throw new Error(`${this.label} answered "${line}" with ${JSON.stringify(ev)}, not a "${event}" event`);
    return ev as EventOf<N>;
  }

  /** O, then O more until the last page: the whole online list (these tests' lists are small). */
  async online() {
    let page = await this.expect('O', 'online');
    const items = [...page.items];
    while (page.more) {
      page = await this.expect(page.more, 'online');
      items.push(...page.items);
    }
    return items;
  }

  /** R: registers a file under its own name or under `contentName`. */
  async register(filePath: string, contentName?: string) {
    return (await this.expect(contentName === undefined ? `R ${word(filePath)}` : `R ${word(filePath)} ${word(contentName)}`, 'registered')).share;
  }

  /** T: de-registers content. */
  async deregister(contentName: string): Promise<void> {
    await this.expect(`T ${word(contentName)}`, 'deregistered');
  }

  /** D: downloads content (from one peer when given) into the terminal peer's folder. */
  download(contentName: string, fromPeer?: string) {
    return this.expect(fromPeer === undefined ? `D ${word(contentName)}` : `D ${word(contentName)} from ${fromPeer}`, 'downloaded');
  }

  /** S: the peers that share the content; rejects with NOT_FOUND when none does. */
  async sources(contentName: string) {
    return (await this.expect(`S ${word(contentName)}`, 'sources')).items;
  }

  /** N: changes the terminal peer's name. */
  async rename(peerName: string) {
    return this.expect(`N ${peerName}`, 'peer-name');
  }

  /** Q: de-registers everything and waits for the process to end (killing it if it does not). */
  async quit(): Promise<void> {
    if (this.exited) return;
    try {
      this.send('Q');
      await this.waitForExit({ timeoutMs: COMMAND_TIMEOUT_MS });
    } catch {
      await this.kill();
    }
  }
}

function parse(line: string): CliEvent {
  return JSON.parse(line) as CliEvent;
}

/** One menu word (docs/cli.md): double quotes hold spaces; inside them only quote and backslash are escaped. */
function word(text: string): string {
  return /[\s"]/u.test(text) || text === '' ? `"${text.replace(/[\\"]/gu, (c) => `\\${c}`)}"` : text;
}
