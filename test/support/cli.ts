// Runs terminal peers (and the index server) as real child processes for tests: send lines, await output lines, clean up.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quoteWord } from '../../src/cli/tokenize';

/** The compiled terminal peer and index server, next to this file in out/. */
export const CLI_MAIN = path.resolve(__dirname, '../../src/cli/main.js');
export const INDEX_SERVER_MAIN = path.resolve(__dirname, '../../src/server/main.js');

const DEFAULT_TIMEOUT_MS = 15000;
/** How many recent lines a timeout error shows, so a failure explains itself. */
const RECENT_LINES = 25;

/** One --json output line of the terminal peer (docs/cli.md). */
export interface CliJsonEvent {
  event: string;
  [field: string]: unknown;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WaitOptions {
  timeoutMs?: number;
}

type Stream = 'stdout' | 'stderr';

interface Waiter {
  stream: Stream;
  from: number;
  match: (line: string) => boolean;
  resolve: (index: number) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const running = new Set<LineProcess>();

// Whatever a failing test leaves behind must not outlive the test run.
process.on('exit', () => {
  for (const p of running) p.child.kill('SIGKILL');
});

/**
 * A child process whose stdout and stderr are read as lines. Each stream has a cursor: waiting
 * for a line consumes every line up to and including the match, so consecutive waits read the
 * output in order and never match the same line twice.
 */
export class LineProcess {
  readonly child: ChildProcess;
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  /** Resolves when the process has exited and its output streams are closed. */
  readonly closed: Promise<ExitStatus>;
  private readonly cursors: Record<Stream, number> = { stdout: 0, stderr: 0 };
  private readonly waiters = new Set<Waiter>();
  private exitStatus?: ExitStatus;

  constructor(
    readonly label: string,
    args: string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv },
  ) {
    this.child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(this);
    this.readLines('stdout');
    this.readLines('stderr');
    // Writing to a peer that already exited must fail the test that cares, not crash the runner.
    this.child.stdin!.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        running.delete(this);
        this.exitStatus = { code, signal };
        for (const w of this.waiters) this.failWaiter(w, `${this.label} exited (${describeExit(this.exitStatus)})`);
        resolve(this.exitStatus);
      });
      this.child.on('error', (err) => {
        for (const w of this.waiters) this.failWaiter(w, `${this.label} could not run: ${err.message}`);
      });
    });
  }

  get exited(): boolean {
    return this.exitStatus !== undefined;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Writes one line to the child's stdin. */
  send(line: string): void {
    if (this.child.stdin!.writableEnded) throw new Error(`${this.label}: stdin is already closed; cannot send ${JSON.stringify(line)}`);
    this.child.stdin!.write(`${line}\n`);
  }

  /** Closes the child's stdin (end of input). */
  endInput(): void {
    this.child.stdin!.end();
  }

  /** Waits for the next stdout line (after the cursor) that matches, and moves the cursor past it. */
  nextLine(match: (line: string) => boolean, options: WaitOptions = {}): Promise<string> {
    return this.waitLine('stdout', match, options);
  }

  /** The same for stderr. */
  nextStderrLine(match: (line: string) => boolean, options: WaitOptions = {}): Promise<string> {
    return this.waitLine('stderr', match, options);
  }

  /** Waits for the process to exit; on timeout the error shows its recent output. */
  async waitForExit(options: WaitOptions = {}): Promise<ExitStatus> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.label} did not exit within ${timeoutMs} ms\n${this.recentOutput()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the process if it still runs (SIGKILL unless told otherwise) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitStatus> {
    if (!this.exited) this.child.kill(signal);
    return this.closed;
  }

  /** The last lines of both streams, for error messages. */
  recentOutput(): string {
    const tail = (lines: string[]) => lines.slice(-RECENT_LINES).map((l) => `    ${l}`).join('\n') || '    (nothing)';
    return `  recent stdout of ${this.label}:\n${tail(this.stdoutLines)}\n  recent stderr of ${this.label}:\n${tail(this.stderrLines)}`;
  }

  protected onLine(_stream: Stream, _line: string): void {
    // Subclasses check lines as they arrive.
  }

  protected failAllWaiters(reason: string): void {
    for (const w of this.waiters) this.failWaiter(w, reason);
  }

  private waitLine(stream: Stream, match: (line: string) => boolean, options: WaitOptions): Promise<string> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const lines = this.lines(stream);
    return new Promise<number>((resolve, reject) => {
      const found = this.scan(stream, this.cursors[stream], match);
      if (found >= 0) return resolve(found);
      if (this.exited) return reject(new Error(`${this.label} exited (${describeExit(this.exitStatus!)})\n${this.recentOutput()}`));
      const waiter: Waiter = {
        stream,
        from: lines.length,
        match,
        resolve,
        reject,
        timer: setTimeout(
          () => this.failWaiter(waiter, `timed out after ${timeoutMs} ms waiting for a matching ${stream} line of ${this.label}`),
          timeoutMs,
        ),
      };
      this.waiters.add(waiter);
    }).then((index) => {
      this.cursors[stream] = index + 1;
      return lines[index];
    });
  }

  private scan(stream: Stream, from: number, match: (line: string) => boolean): number {
    const lines = this.lines(stream);
    for (let i = from; i < lines.length; i++) if (match(lines[i])) return i;
    return -1;
  }

  private lines(stream: Stream): string[] {
    return stream === 'stdout' ? this.stdoutLines : this.stderrLines;
  }

  private failWaiter(w: Waiter, reason: string): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    w.reject(new Error(`${reason}\n${this.recentOutput()}`));
  }

  private readLines(stream: Stream): void {
    const source = this.child[stream]!;
    source.setEncoding('utf8');
    let partial = '';
    const add = (line: string) => {
      const lines = this.lines(stream);
      lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      const index = lines.length - 1;
      this.onLine(stream, lines[index]);
      for (const w of this.waiters) {
        if (w.stream !== stream || index < w.from) continue;
        let ok = false;
        try {
          ok = w.match(lines[index]);
        } catch (err) {
          this.failWaiter(w, `the line matcher threw: ${(err as Error).message}`);
          continue;
        }
        if (ok) {
          this.waiters.delete(w);
          clearTimeout(w.timer);
          w.resolve(index);
        }
      }
    };
    source.on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        add(line);
      }
    });
    source.on('end', () => {
      if (partial !== '') add(partial);
      partial = '';
    });
  }
}

function describeExit(s: ExitStatus): string {
  return s.signal ? `signal ${s.signal}` : `exit code ${s.code}`;
}

export interface CliPeerOptions {
  /** Index server "host:port". */
  index: string;
  name?: string;
  /** Download folder; default a fresh temp folder removed by stop(). */
  dir?: string;
  /** Content server port; default 0. */
  port?: number;
  /** --json mode; default true. */
  json?: boolean;
  /** More command-line arguments, after the ones above. */
  args?: string[];
  /**
   * Extra environment; P2P_INDEX and P2P_PEER_NAME of the test runner are never passed on. Without an
   * XDG_STATE_HOME here, each peer gets a fresh one of its own (removed by stop()), so its identity is its own.
   */
  env?: Record<string, string>;
  /** Working directory (relative R paths are read from it); default the download folder's parent. */
  cwd?: string;
  /** The program to run; default out/src/cli/main.js (pass dist/peer-cli.js to test the bundle). */
  entry?: string;
  /** Wait for the "ready" event (JSON mode) before resolving; default true in JSON mode. */
  waitForReady?: boolean;
  timeoutMs?: number;
}

/** True for events that report on a running command or on the background, rather than finishing a command. */
export function isResultEvent(e: CliJsonEvent): boolean {
  if (e.event === 'progress' || e.event === 'state') return false;
  // A refused lease refresh of one share: background news, never a command's answer.
  return !(e.event === 'error' && e.command === undefined && e.contentName !== undefined);
}

/**
 * A terminal peer (`node out/src/cli/main.js`) as a child process. In JSON mode every stdout line
 * must be one JSON object with an "event" field; anything else fails every wait with the offending line.
 */
export class CliPeer extends LineProcess {
  /** Every JSON event seen so far, in order (JSON mode). */
  readonly events: CliJsonEvent[] = [];
  /** The "ready" event, once seen. */
  ready?: CliJsonEvent;
  private violation?: string;

  private constructor(
    label: string,
    args: string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv },
    readonly json: boolean,
    readonly dir: string,
    private readonly ownedDir: string | undefined,
    private readonly stateHome: string | undefined,
  ) {
    super(label, args, options);
  }

  /** Spawns a terminal peer; in JSON mode resolves once it printed "ready". */
  static async start(options: CliPeerOptions): Promise<CliPeer> {
    const json = options.json ?? true;
    const ownedDir = options.dir === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'p2p-cli-peer-')) : undefined;
    const dir = options.dir ?? path.join(ownedDir!, 'downloads');
    const args = [options.entry ?? CLI_MAIN, '--index', options.index, '--dir', dir, '--port', String(options.port ?? 0)];
    if (options.name !== undefined) args.push('--name', options.name);
    if (json) args.push('--json');
    args.push(...(options.args ?? []));
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
    for (const k of ['P2P_INDEX', 'P2P_PEER_NAME']) if (!options.env?.[k]) delete env[k];
    // Each test peer is its own peer, with its own identity: never the runner's ~/.local/state, never another test's.
    const stateHome = options.env?.XDG_STATE_HOME === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'p2p-cli-state-')) : undefined;
    if (stateHome) env.XDG_STATE_HOME = stateHome;
    const label = `p2p-peer ${options.name ?? '(default name)'}`;
    const peer = new CliPeer(label, args, { cwd: options.cwd ?? path.dirname(dir), env }, json, dir, ownedDir, stateHome);
    if (json && (options.waitForReady ?? true)) {
      try {
        peer.ready = await peer.next((e) => e.event === 'ready', { timeoutMs: options.timeoutMs });
      } catch (err) {
        await peer.stop();
        throw err;
      }
    }
    return peer;
  }

  protected override onLine(stream: Stream, line: string): void {
    if (stream !== 'stdout' || !this.json) return;
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as CliJsonEvent).event !== 'string') {
        throw new Error('not an object with an "event" field');
      }
      this.events.push(value as CliJsonEvent);
    } catch (err) {
      this.violation ??= `${this.label} printed a stdout line that is not a JSON event (${(err as Error).message}): ${JSON.stringify(line)}`;
      this.failAllWaiters(this.violation);
    }
  }

  /** Waits for the next JSON event that matches (JSON mode). */
  async next(match: (e: CliJsonEvent) => boolean, options: WaitOptions = {}): Promise<CliJsonEvent> {
    if (this.violation) throw new Error(`${this.violation}\n${this.recentOutput()}`);
    const line = await this.nextLine((l) => {
      if (this.violation) throw new Error(this.violation);
      return match(JSON.parse(l) as CliJsonEvent);
    }, options);
    return JSON.parse(line) as CliJsonEvent;
  }

  /** Waits for the next event of one kind, e.g. nextEvent('registered'). */
  nextEvent(name: string, options: WaitOptions = {}): Promise<CliJsonEvent> {
    return this.next((e) => e.event === name, options);
  }

  /**
   * Sends one command line and resolves with the event that finishes it: the first event that is
   * not progress, a connection state or a background error. Commands run one at a time, so this is
   * that command's result (for N after a clash, the retried registrations follow it).
   */
  async run(line: string, options: WaitOptions = {}): Promise<CliJsonEvent> {
    this.send(line);
    return this.next(isResultEvent, options);
  }

  /** run() for a command and its arguments, quoting each argument as needed (paths with spaces). */
  runCommand(letter: string, ...args: string[]): Promise<CliJsonEvent> {
    return this.run([letter, ...args.map(quoteWord)].join(' '));
  }

  /** Like run(), but fails unless the result is an error, and returns it. */
  async runExpectingError(line: string, code: string, options: WaitOptions = {}): Promise<CliJsonEvent> {
    const ev = await this.run(line, options);
    if (ev.event !== 'error' || ev.code !== code) {
      throw new Error(`${this.label}: expected error ${code} for ${JSON.stringify(line)}, got ${JSON.stringify(ev)}`);
    }
    return ev;
  }

  /** Stops the peer the hard way if it still runs and removes the temp folder it was given by start(). */
  async stop(): Promise<ExitStatus> {
    const status = await this.kill('SIGKILL');
    if (this.ownedDir) fs.rmSync(this.ownedDir, { recursive: true, force: true });
    if (this.stateHome) fs.rmSync(this.stateHome, { recursive: true, force: true });
    return status;
  }
}

/** A real index server child process (`node out/src/server/main.js --port 0`). */
export class IndexServerProcess extends LineProcess {
  host = '';
  port = 0;

  /** "host:port" for --index. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /**
   * Starts one on 127.0.0.1 with a free port, read from its "listening on udp HOST:PORT" log line.
   * `entry` picks the script (default out/src/server/main.js; the VS Code suites use the dist/ bundle).
   */
  static async start(
    extraArgs: string[] = [],
    options: WaitOptions & { entry?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<IndexServerProcess> {
    const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
    for (const k of Object.keys(env)) if (k.startsWith('P2P_INDEX')) delete env[k];
    // Tests keep name ownership in memory unless they pass --data (flags win over the environment).
    env.P2P_INDEX_DATA = 'none';
    const entry = options.entry ?? INDEX_SERVER_MAIN;
    const server = new IndexServerProcess('index server', [entry, '--host', '127.0.0.1', '--port', '0', ...extraArgs], { env });
    const pattern = /listening on udp (\S+):(\d+)/u;
    try {
      const line = await server.nextStderrLine((l) => pattern.test(l), options);
      const [, host, port] = pattern.exec(line)!;
      server.host = host.replace(/^\[(.*)\]$/u, '$1');
      server.port = Number(port);
    } catch (err) {
      await server.kill();
      throw err;
    }
    return server;
  }

  /** SIGTERM, then SIGKILL if it has not gone within the deadline. */
  async stop(timeoutMs = 5000): Promise<ExitStatus> {
    if (this.exited) return this.closed;
    this.child.kill('SIGTERM');
    try {
      return await this.waitForExit({ timeoutMs });
    } catch {
      return this.kill('SIGKILL');
    }
  }
}

/** A fresh folder under the OS temp folder; remove it with removeTempDir. */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `p2p-${prefix}-`));
}

export function removeTempDir(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
