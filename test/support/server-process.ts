// A real p2p-index-server child process for tests: clean environment, output collected, log lines awaitable.
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

const MAIN = path.resolve(__dirname, '../../src/server/main.js');

/** A running p2p-index-server child, with its output collected and lines awaitable. */
export class ServerProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      for (const w of [...this.waiters]) {
        const m = this.stderr.match(w.re);
        if (m) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  static run(args: string[], env: NodeJS.ProcessEnv = {}): ServerProcess {
    // A clean environment, so a P2P_INDEX_* variable of the developer's shell cannot change the test.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('P2P_INDEX_')));
    // Name ownership in memory unless a test passes --data or P2P_INDEX_DATA: never the developer's own data folder.
    return new ServerProcess(spawn(process.execPath, [MAIN, ...args], { env: { ...base, P2P_INDEX_DATA: 'none', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** Resolves when stderr matches `re`; rejects if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpMatchArray> {
    const m = this.stderr.match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      this.waiters.push({ re, resolve });
      void this.exited.then(() => reject(new Error(`exited before printing ${re}; stderr:\n${this.stderr}`)));
    });
  }

  async port(): Promise<number> {
    return Number((await this.waitFor(/info {2}listening on udp 127\.0\.0\.1:(\d+)\n/))[1]);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

