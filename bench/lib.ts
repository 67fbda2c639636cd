// Plumbing every benchmark shares: tracked child processes that are always killed, IPC calls, statistics, /proc readers, profiles, markdown.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Compiled layout: this file is out/bench/lib.js, the server CLI out/src/server/main.js. */
export const OUT_DIR = path.resolve(__dirname, '..');
export const REPO_DIR = path.resolve(OUT_DIR, '..');
export const INDEX_SERVER_MAIN = path.join(OUT_DIR, 'src', 'server', 'main.js');
/** Git-ignored scratch space for profiles; big files go to os.tmpdir(). */
export const BENCH_TMP = path.join(REPO_DIR, 'bench', 'tmp');

// ---------------------------------------------------------------- children

const children = new Set<ChildProcess>();
let cleanupInstalled = false;

/** Temp folders not yet removed: an interrupted run must not leave a 1 GiB file behind either. */
const tempDirs = new Set<string>();

function removeTempDirsNow(): void {
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort on the way out */
    }
  }
  tempDirs.clear();
}

/** Kills every child still running; safe to call from any exit path, more than once. */
export function killAllChildren(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  children.clear();
}

/** So that a crash, Ctrl-C or kill of the bench never leaves servers or peers behind. */
export function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    killAllChildren();
    removeTempDirsNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAllChildren();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    killAllChildren();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: unhandled rejection: ${(err as Error)?.stack ?? err}\n`);
    killAllChildren();
    process.exit(1);
  });
}

export interface SpawnOptions {
  args?: string[];
  execArgv?: string[];
  ipc?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** A node child whose stderr lines are kept (last 200) so a failure can explain itself. */
export class NodeChild {
  readonly proc: ChildProcess;
  readonly stderrLines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private lineWaiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  private partial = '';

  constructor(
    readonly label: string,
    script: string,
    opts: SpawnOptions = {},
  ) {
    // stdin is a pipe nobody writes to: it closes when the bench dies, however it dies, and
    // children that watch it (the baselines) leave with it.
    const stdio: ('pipe' | 'ignore' | 'ipc')[] = ['pipe', 'ignore', 'pipe'];
    if (opts.ipc) stdio.push('ipc');
    this.proc = spawn(process.execPath, [...(opts.execArgv ?? []), script, ...(opts.args ?? [])], {
      stdio,
      env: opts.env ?? process.env,
    });
    children.add(this.proc);
    this.proc.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        children.delete(this.proc);
        resolve({ code, signal });
      }),
    );
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (text: string) => this.onStderr(text));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private onStderr(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      this.stderrLines.push(line);
      if (this.stderrLines.length > 200) this.stderrLines.shift();
      for (const w of [...this.lineWaiters]) {
        const m = w.re.exec(line);
        if (m) {
          this.lineWaiters.splice(this.lineWaiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  }

  /** Resolves with the first stderr line (from now on, or already seen) matching `re`. */
  waitForLine(re: RegExp): Promise<RegExpMatchArray> {
    for (const line of this.stderrLines) {
      const m = re.exec(line);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve) => this.lineWaiters.push({ re, resolve }));
  }

  tail(n = 15): string {
    return this.stderrLines.slice(-n).join('\n');
  }

  /** SIGTERM first (so --cpu-prof can write its profile), SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

interface IpcReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** Parent side of a request/reply protocol over Node IPC: call(cmd, args) -> the child's result. */
export class IpcChild extends NodeChild {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(label: string, script: string, opts: SpawnOptions = {}) {
    super(label, script, { ...opts, ipc: true });
    this.proc.on('message', (m: IpcReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${this.label}: ${m.error}`));
    });
    void this.exited.then(({ code, signal }) => {
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`${this.label} exited (${code ?? signal}) with a call pending\n${this.tail()}`));
      }
      this.pending.clear();
    });
  }

  call<T>(cmd: string, args: object = {}, timeoutMs = 120_000): Promise<T> {
    if (!this.running) return Promise.reject(new Error(`${this.label} is not running\n${this.tail()}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: ${cmd} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.send({ id, cmd, args });
    });
  }

  /** Asks the child to leave by itself (so profiles get written), then makes sure it is gone. */
  async quit(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    await this.call('quit', {}, graceMs).catch(() => undefined);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Child side: answers the parent's calls with `handlers`. 'quit' is built in: it runs `onQuit` and
 * exits. A vanished parent (IPC disconnect) ends the child too, so nothing outlives the bench.
 */
export function serveIpc(handlers: Record<string, (args: any) => unknown>, onQuit?: () => Promise<void> | void): void {
  if (!process.send) throw new Error('this script runs as a child of the bench (it needs an IPC channel)');
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m: { id: number; cmd: string; args: unknown }) => {
    const reply = (r: Omit<IpcReply, 'id'>): void => {
      if (process.connected) process.send!({ id: m.id, ...r });
    };
    if (m.cmd === 'quit') {
      try {
        await onQuit?.();
      } finally {
        reply({ ok: true });
        // Let the reply go out, then leave through a normal exit so --cpu-prof writes its file.
        setTimeout(() => process.exit(0), 20);
      }
      return;
    }
    const handler = handlers[m.cmd];
    if (!handler) return reply({ ok: false, error: `unknown command ${m.cmd}` });
    try {
      reply({ ok: true, result: await handler(m.args) });
    } catch (err) {
      reply({ ok: false, error: (err as Error)?.stack ?? String(err) });
    }
  });
}

// ---------------------------------------------------------------- index server process

export interface IndexServerProcess {
  child: NodeChild;
  host: string;
  port: number;
  address: string;
}

/**
 * Runs `node out/src/server/main.js` on 127.0.0.1, port 0. The port comes from its "listening on udp
 * HOST:PORT" line; at --log-level warn that line is not printed (it is logged at info), so the
 * bound port is then read from /proc (the child's socket inode in /proc/net/udp).
 */
export async function startIndexServerProcess(flags: string[], execArgv: string[] = []): Promise<IndexServerProcess> {
  if (!fs.existsSync(INDEX_SERVER_MAIN)) throw new Error(`${INDEX_SERVER_MAIN} is missing: run "npx tsc -p ." first`);
  const child = new NodeChild('index server', INDEX_SERVER_MAIN, {
    // Memory only unless the bench names a store: a bench must not write into the user's data folder.
    args: ['--host', '127.0.0.1', '--port', '0', ...(flags.includes('--data') || flags.includes('--store') ? [] : ['--data', 'none']), ...flags],
    execArgv: ['--require', path.join(__dirname, 'exit-with-parent.js'), ...execArgv],
  });
  const fromLog = child.waitForLine(/listening on udp (\S+):(\d+)/).then((m) => Number(m[2]));
  const deadline = Date.now() + 15_000;
  let port = 0;
  while (!port) {
    if (!child.running) throw new Error(`the index server exited at start:\n${child.tail()}`);
    if (Date.now() > deadline) throw new Error(`the index server did not bind within 15 s:\n${child.tail()}`);
    port = (await Promise.race([fromLog, sleep(50).then(() => 0)])) || udpPortsOf(child.pid)[0] || 0;
  }
  return { child, host: '127.0.0.1', port, address: `127.0.0.1:${port}` };
}

/** Local UDP ports the process `pid` has bound (Linux /proc); [] elsewhere. */
export function udpPortsOf(pid: number): number[] {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      fs
        .readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter((x): x is string => x !== undefined),
    );
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && inodes.has(cols[9])) ports.push(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return ports;
}

// ---------------------------------------------------------------- memory of other processes

/** VmRSS (or another Vm* field) of a process in bytes, from /proc; undefined when unreadable. */
export function procStatusBytes(pid: number, field = 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ".
    const cols = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(cols[11]) + Number(cols[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** USER_HZ: 100 on every Linux Node supports. */
const CLOCK_TICKS = 100;

/**
 * Peak RSS of a process over a window: resets the kernel's high-water mark (clear_refs 5) at the
 * start and reads VmHWM at the end, which costs the watched process nothing. Only where the reset
 * is not allowed is VmRSS polled instead (every 50 ms: a peak shorter than that can be missed).
 */
export class RssWatch {
  private maxPolled = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  readonly hwmReset: boolean;

  constructor(
    readonly pid: number,
    pollMs = 50,
  ) {
    let reset = false;
    try {
      fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
      reset = procStatusBytes(pid, 'VmHWM') !== undefined;
    } catch {
      /* older kernel or not permitted: polling alone */
    }
    this.hwmReset = reset;
    this.poll();
    if (!reset) this.timer = setInterval(() => this.poll(), pollMs);
  }

  private poll(): void {
    const rss = procStatusBytes(this.pid);
    if (rss !== undefined && rss > this.maxPolled) this.maxPolled = rss;
  }

  /** Stops watching; the peak in bytes. */
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.poll();
    const hwm = this.hwmReset ? procStatusBytes(this.pid, 'VmHWM') ?? 0 : 0;
    return Math.max(this.maxPolled, hwm);
  }
}

// ---------------------------------------------------------------- statistics

export function sortedCopy(xs: ArrayLike<number>): Float64Array {
  return Float64Array.from(xs as ArrayLike<number>).sort();
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function median(xs: number[]): number {
  return percentile(sortedCopy(xs), 50);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- disk

/** Free bytes for an unprivileged writer on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const st = await fs.promises.statfs(dir);
  return Number(st.bavail) * Number(st.bsize);
}

/**
 * Flushes a freshly written file to disk, so the kernel's delayed write-back of it (about 30 s later)
 * does not land in the middle of a measurement.
 */
export async function flushToDisk(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function makeTempDir(tag: string): Promise<string> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), `p2p-bench-${tag}-`));
  tempDirs.add(dir);
  return dir;
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (!dir) return;
  await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  tempDirs.delete(dir);
}

// ---------------------------------------------------------------- CPU profiles

export interface ProfileFrame {
  /** "function (file:line)". */
  frame: string;
  selfPercent: number;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** The frames with the most self time in a .cpuprofile (written by node --cpu-prof). */
export function topFrames(profileFile: string, n = 8): ProfileFrame[] {
  const prof = JSON.parse(fs.readFileSync(profileFile, 'utf8')) as {
    nodes: CpuProfileNode[];
    samples?: number[];
    timeDeltas?: number[];
  };
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  const add = (node: CpuProfileNode | undefined, weight: number): void => {
    if (!node) return;
    const cf = node.callFrame;
    const file = cf.url ? path.relative(OUT_DIR, cf.url.replace(/^file:\/\//, '')) : '';
    const name = `${cf.functionName || '(anonymous)'}${file ? ` (${file}:${cf.lineNumber + 1})` : ''}`;
    self.set(name, (self.get(name) ?? 0) + weight);
    total += weight;
  };
  if (prof.samples && prof.timeDeltas && prof.samples.length === prof.timeDeltas.length) {
    // A sample's time is the gap to the next one.
    for (let i = 0; i < prof.samples.length; i++) add(byId.get(prof.samples[i]), prof.timeDeltas[i + 1] ?? 0);
  } else {
    for (const node of prof.nodes) add(node, node.hitCount ?? 0);
  }
  // Idle time is not work: leave it out of the shares.
  const idle = self.get('(idle)') ?? 0;
  self.delete('(idle)');
  const busy = total - idle;
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, t]) => ({ frame, selfPercent: busy > 0 ? (100 * t) / busy : 0 }));
}

/** The newest .cpuprofile in `dir`, or undefined. */
export function newestProfile(dir: string): string | undefined {
  try {
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(dir, f))
      .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
    return files[0];
  } catch {
    return undefined;
  }
}

export function formatFrames(frames: ProfileFrame[]): string {
  return frames.map((f) => `${f.selfPercent.toFixed(1)}% ${f.frame}`).join('; ');
}

// ---------------------------------------------------------------- machine and markdown

export function machineLines(): string[] {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus[0]?.model ?? 'unknown'} (${cpus.length} logical cores)`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Node.js: ${process.version}`,
    `- OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `- Load average at start (1/5/15 min): ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`,
  ];
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A file size for titles: "1 GiB", "256 MiB". */
export function sizeText(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  return mib(bytes);
}

export function fixed(x: number, digits = 2): string {
  if (x === Infinity) return 'none answered';
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

export function metText(met: boolean): string {
  return met ? 'met' : '**not met**';
}

/** What a benchmark hands back to run.ts for bench/RESULTS.md. */
export interface Section {
  name: string;
  title: string;
  markdown: string;
  /** One line per target for the summary at the top. */
  summary: { figure: string; value: string; target: string; met: boolean }[];
}
