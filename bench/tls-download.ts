// TLS bench: one file downloaded over TLS 1.3 (pinned) and over plain TCP from the same sending process, interleaved and repeated.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Downloader } from '../src/peer/download/downloader';
import { writeTestFile } from '../test/support/peers';
import { IpcChild, Section, fixed, median, flushToDisk, makeTempDir, metText, procCpuSeconds, removeDir, sizeText, table } from './lib';

const TARGET_RATIO = 0.85;
const NAME = 'bench-tls.bin';

export async function runTlsBench(opts: { quick: boolean; log: (line: string) => void }): Promise<Section> {
  const size = opts.quick ? 256 * 2 ** 20 : 2 ** 30;
  const reps = opts.quick ? 2 : 4;
  const dir = await makeTempDir('tls-bench');
  const sender = new IpcChild('tls sender', path.join(__dirname, 'tls-source.js'));
  try {
    const file = await writeTestFile(dir, NAME, size);
    await flushToDisk(file.path);
    const { plainPort, tlsPort, pin } = await sender.call<{ plainPort: number; tlsPort: number; pin: string }>('serve', { ...file, name: NAME });
    const downloader = new Downloader({});
    const folder = path.join(dir, 'down');
    fs.mkdirSync(folder);
    const runs: Record<'tls' | 'plain', { ms: number; senderCpu: number; receiverCpu: number }[]> = { tls: [], plain: [] };
    const once = async (kind: 'tls' | 'plain', measured: boolean): Promise<void> => {
      const source = kind === 'tls' ? { peerName: 'seed', host: '127.0.0.1', port: tlsPort, pin: Buffer.from(pin, 'hex') } : { peerName: 'seed', host: '127.0.0.1', port: plainPort };
      const cpu0 = process.cpuUsage();
      const send0 = procCpuSeconds(sender.pid);
      const t0 = performance.now();
      const r = await downloader.fetch({ contentName: NAME, sha256: file.sha256, size, sources: [source], folder });
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const run = { ms, senderCpu: procCpuSeconds(sender.pid) - send0, receiverCpu: (cpu.user + cpu.system) / 1e6 };
      await fs.promises.rm(r.path, { force: true });
      if (measured) runs[kind].push(run);
      opts.log(`tls: ${measured ? '' : '(warm-up) '}${kind}: ${fixed(size / 2 ** 20 / (ms / 1000), 0)} MiB/s`);
    };
    await once('plain', false);
    await once('tls', false);
    // Alternating, the first of each pair flipped every repetition, so a slow spell hits both.
    for (let rep = 0; rep < reps; rep++) {
      const order: ('tls' | 'plain')[] = rep % 2 === 0 ? ['tls', 'plain'] : ['plain', 'tls'];
      for (const kind of order) await once(kind, true);
    }
    const rate = (ms: number): number => size / 2 ** 20 / (ms / 1000);
    const best = (kind: 'tls' | 'plain'): number => Math.max(...runs[kind].map((r) => rate(r.ms)));
    const ratio = best('tls') / best('plain');
    const mid = (kind: 'tls' | 'plain'): number => median(runs[kind].map((r) => rate(r.ms)));
    const cpuPerGiB = (kind: 'tls' | 'plain', side: 'senderCpu' | 'receiverCpu'): number => median(runs[kind].map((r) => r[side])) / (size / 2 ** 30);
    const per = (kind: 'tls' | 'plain') =>
      runs[kind].map((r) => [kind, fixed(rate(r.ms), 0), fixed(r.senderCpu, 2), fixed(r.receiverCpu, 2)] as (string | number)[]);
    const md = [
      `${sizeText(size)} of random bytes from one sending process (\`bench/tls-source.ts\`: two \`ContentServer\`s on one file, one plain, one TLS 1.3 with a P-256 key) to the \`Downloader\` in the bench process, over 127.0.0.1: whole-file SHA-256 check (on the hashing thread) and the rename included, the file deleted after each run. One warm-up of each, then ${reps} repetitions, TLS and plain alternating with the order flipped each time. Rate: best of the repetitions.`,
      '',
      table(['run', 'MiB/s', 'sender CPU s', 'receiver CPU s'], [...per('tls'), ...per('plain')]),
      '',
      `Best: TLS ${fixed(best('tls'), 0)} MiB/s, plain ${fixed(best('plain'), 0)} MiB/s: **TLS / plain = ${fixed(ratio)}** (target >= ${TARGET_RATIO}: ${metText(ratio >= TARGET_RATIO)}). Medians: TLS ${fixed(mid('tls'), 0)}, plain ${fixed(mid('plain'), 0)} MiB/s (${fixed(mid('tls') / mid('plain'))}).`,
      '',
      `CPU per GiB (median; what the machine's other load moves least): sender ${fixed(cpuPerGiB('tls', 'senderCpu'))} s with TLS against ${fixed(cpuPerGiB('plain', 'senderCpu'))} s plain, receiver ${fixed(cpuPerGiB('tls', 'receiverCpu'))} s against ${fixed(cpuPerGiB('plain', 'receiverCpu'))} s (receiver: every thread of the bench process, the hashing thread included). Node's TLS stream hands the downloader one 16 KiB record per 'data' event where plain TCP hands up to 64 KiB; the downloader copies either into 1 MiB blocks, so the write and hash side sees the same calls for both.`,
    ];
    return {
      name: 'tls',
      title: `TLS: ${sizeText(size)} encrypted download against plain`,
      markdown: md.join('\n'),
      summary: [{ figure: `Download ${sizeText(size)}, TLS 1.3 / plain TCP`, value: fixed(ratio), target: `>= ${TARGET_RATIO}`, met: ratio >= TARGET_RATIO }],
    };
  } finally {
    await sender.quit();
    await removeDir(dir);
  }
}
