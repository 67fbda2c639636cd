// The tools people use instead, as download baselines: an rsync daemon on loopback and curl from a plain HTTP server, each timed fetching a fresh copy.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { IpcChild } from './lib';

/** One fresh copy of the file to `dest` by a tool, timed from its start to its exit (its own start-up included). */
export interface ToolFetch {
  label: string;
  fetch(dest: string): Promise<number>;
  stop(): Promise<void>;
}

/** The absolute path of `name` on PATH, or undefined when it is not installed. */
export function which(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function run(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err.trim()}`))));
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Resolves once something accepts connections on 127.0.0.1:port. */
async function listening(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `rsync --daemon --no-detach` on 127.0.0.1 serving the file's folder read-only; the client copies it
 * to a path where nothing exists, so the whole file moves and rsync checks its whole-file checksum.
 */
export async function startRsync(file: string, workDir: string): Promise<ToolFetch> {
  const rsync = which('rsync');
  if (!rsync) throw new Error('rsync is not installed');
  const port = await freePort();
  const conf = path.join(workDir, 'rsyncd.conf');
  const me = os.userInfo();
  fs.writeFileSync(
    conf,
    [`pid file = ${path.join(workDir, 'rsyncd.pid')}`, `log file = ${path.join(workDir, 'rsyncd.log')}`, 'use chroot = no', `uid = ${me.uid}`, `gid = ${me.gid}`,
      '[bench]', `path = ${path.dirname(file)}`, 'read only = yes', ''].join('\n'),
  );
  const daemon = spawn(rsync, ['--daemon', '--no-detach', '--address', '127.0.0.1', '--port', String(port), '--config', conf], { stdio: 'ignore' });
  const gone = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  await listening(port, 5000);
  return {
    label: 'rsync',
    fetch: (dest) => run(rsync, [`rsync://127.0.0.1:${port}/bench/${path.basename(file)}`, dest]),
    stop: async () => {
      daemon.kill('SIGTERM');
      await gone;
    },
  };
}

/** A node:http server process (bench/http-source.ts) handing out the file; curl saves it to `dest`. */
export async function startCurl(file: string, size: number): Promise<ToolFetch> {
  const curl = which('curl');
  if (!curl) throw new Error('curl is not installed');
  const server = new IpcChild('http server', path.join(__dirname, 'http-source.js'));
  const { port } = await server.call<{ port: number }>('serve', { file, size });
  return {
    label: 'curl',
    fetch: (dest) => run(curl, ['--silent', '--show-error', '--fail', '--output', dest, `http://127.0.0.1:${port}/${path.basename(file)}`]),
    stop: () => server.quit(),
  };
}
