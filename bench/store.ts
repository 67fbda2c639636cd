// `node out/bench/store.js`: the index's stores: LMDB start-up with 1M owners, req/s in memory vs one and two servers on Redis, Redis bytes per entry.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createClient } from 'redis';
import { open } from 'lmdb';
import { freeTcpPort } from '../test/support/free-port';
import { BENCH_TMP, IpcChild, installCleanup, killAllChildren, machineLines, startIndexServerProcess, table } from './lib';
import type { RunResult } from './udp-load';

const NAMES = 1_000_000;
const PEERS = 16;
const PER_PEER = 1250;
const ENTRIES = PEERS * PER_PEER;
const REPS = 3;
const RUN = { window: 64, durationMs: 1500, warmupMs: 400 };
const FLAGS = ['--rate-limit', '0', '--max-per-peer', '1000000', '--max-entries', '4000000', '--max-per-address', '4000000', '--max-per-secret', '4000000', '--ttl', '3600', '--log-level', 'warn'];

function log(line: string): void {
  process.stderr.write(`store bench: ${line}\n`);
}

/** Milliseconds from spawning the server to its "listening" line. */
async function startupMs(flags: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const s = await startIndexServerProcess(flags);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await s.child.stop();
  return ms;
}

async function lmdbStartup(): Promise<string[][]> {
  const dir = fs.mkdtempSync(path.join(BENCH_TMP, 'owners-'));
  try {
    const db = open<Buffer, string>({ path: dir, encoding: 'binary', compression: false });
    const rec = Buffer.alloc(40, 1);
    rec.writeDoubleBE(Date.now(), 32);
    const t0 = Date.now();
    db.transactionSync(() => {
      for (let i = 0; i < NAMES; i++) db.putSync(`peer-${i}`, rec);
    });
    await db.close();
    log(`wrote ${NAMES} owners in ${Date.now() - t0} ms`);
    const rows: string[][] = [];
    const none: number[] = [];
    const full: number[] = [];
    for (let r = 0; r < REPS; r++) {
      none.push(await startupMs(['--data', 'none']));
      full.push(await startupMs(['--data', dir]));
    }
    const best = (xs: number[]): number => Math.min(...xs);
    const size = fs.statSync(path.join(dir, 'data.mdb')).size;
    rows.push([`start-up to listening, ${NAMES.toLocaleString('en')} owners in LMDB`, `${best(full).toFixed(0)} ms`, `${best(none).toFixed(0)} ms`, (best(full) / best(none)).toFixed(2)]);
    rows.push(['LMDB file for them', `${(size / 2 ** 20).toFixed(1)} MiB (${Math.round(size / NAMES)} B a name)`, '', '']);
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function startRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freeTcpPort();
  const dir = fs.mkdtempSync(path.join(BENCH_TMP, 'redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => ((out += d), /Ready to accept/.test(out) && resolve()));
    child.once('exit', () => reject(new Error('redis-server exited')));
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => (child.kill('SIGKILL'), fs.rmSync(dir, { recursive: true, force: true })) };
}

async function usedMemory(url: string): Promise<number> {
  const c = createClient({ url });
  await c.connect();
  const info = await c.sendCommand<string>(['INFO', 'memory']);
  c.destroy();
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/** req/s of the 80/15/5 mix, best of REPS, at each server at once (summed). */
async function throughput(servers: { host: string; port: number; pid: number }[], loadVia: number): Promise<number> {
  const gens = servers.map((_, i) => new IpcChild(`load ${i}`, path.join(__dirname, 'udp-load.js')));
  for (const [i, g] of gens.entries()) {
    await g.call('prepare', { peers: PEERS, perPeer: PER_PEER });
    await g.call('connect', { name: 't', host: servers[i].host, port: servers[i].port, sockets: 4 });
  }
  const loaded = await gens[loadVia].call<{ registered: number; errors: Record<string, number> }>('load', { target: 't', window: 128 }, 180_000);
  if (loaded.registered !== ENTRIES) throw new Error(`loaded ${loaded.registered} of ${ENTRIES}: ${JSON.stringify(loaded.errors)}`);
  let best = 0;
  for (let r = 0; r < REPS; r++) {
    const runs = await Promise.all(gens.map((g, i) => g.call<RunResult>('run', { target: 't', serverPid: servers[i].pid, ...RUN }, 60_000)));
    const sum = runs.reduce((a, m) => a + m.rps, 0);
    log(`${servers.length} server(s) rep ${r + 1}: ${Math.round(sum)} req/s (errors ${JSON.stringify(runs.map((m) => m.errors))})`);
    best = Math.max(best, sum);
  }
  for (const g of gens) await g.stop();
  return best;
}

async function main(): Promise<void> {
  installCleanup();
  fs.mkdirSync(BENCH_TMP, { recursive: true });
  const started = Date.now();
  const lmdbRows = await lmdbStartup();

  const mem = await startIndexServerProcess(['--data', 'none', ...FLAGS]);
  const memRps = await throughput([{ host: mem.host, port: mem.port, pid: mem.child.pid }], 0);
  await mem.child.stop();

  const redis = await startRedis();
  const before = await usedMemory(redis.url);
  const r1 = await startIndexServerProcess(['--store', redis.url, ...FLAGS]);
  const oneRps = await throughput([{ host: r1.host, port: r1.port, pid: r1.child.pid }], 0);
  const after = await usedMemory(redis.url);
  const r2 = await startIndexServerProcess(['--store', redis.url, ...FLAGS]);
  const twoRps = await throughput([r1, r2].map((s) => ({ host: s.host, port: s.port, pid: s.child.pid })), 0);
  await r1.child.stop();
  await r2.child.stop();
  redis.stop();

  const perEntry = (after - before) / ENTRIES;
  const out = [
    '## 5. Index stores (bench/store.ts)',
    '',
    `Run ${new Date().toISOString()}, ${((Date.now() - started) / 1000).toFixed(0)} s; ${machineLines().map((l) => l.replace(/^- /, '')).join('; ')}.`,
    '',
    table(['figure', 'ours', 'baseline', 'ratio'], [
      ...lmdbRows.map((r) => [r[0], r[1], r[2] ? `${r[2]} (--data none)` : '', r[3]]),
      [`req/s, 80/15/5 mix, ${ENTRIES.toLocaleString('en')} entries, 1 server on Redis`, String(Math.round(oneRps)), `${Math.round(memRps)} (1 server in memory)`, (oneRps / memRps).toFixed(2)],
      ['req/s, same, 2 servers on one Redis (summed, a generator each)', String(Math.round(twoRps)), `${Math.round(memRps)} (1 server in memory)`, (twoRps / memRps).toFixed(2)],
      ['Redis used_memory per entry (INFO memory after/before the load, stream included)', `${Math.round(perEntry)} B`, '', ''],
    ]),
    '',
    `Req/s: best of ${REPS} runs of ${RUN.durationMs} ms at ${RUN.window} in flight per generator (bench/udp-load.ts, as in section 1); the two servers share this 2-core machine with Redis and the generators, so the figure for two is what one machine gives, not what two would.`,
    '',
  ].join('\n');
  process.stdout.write(out);
  killAllChildren();
}

main().catch((err) => {
  process.stderr.write(`store bench: ${(err as Error)?.stack ?? err}\n`);
  killAllChildren();
  process.exit(1);
});
