// TLS bench: one file downloaded over TLS 1.3 (pinned) and over plain TCP from the same sending process, interleaved and repeated; writes its section of bench/RESULTS.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Downloader } from '../src/peer/download/downloader';
import { writeTestFile } from '../test/support/peers';
import { IpcChild, REPO_DIR, fixed, median, flushToDisk, installCleanup, machineLines, makeTempDir, metText, procCpuSeconds, removeDir, sizeText, table } from './lib';

const TARGET_RATIO = 0.85;
const NAME = 'bench-tls.bin';
const HEADING = '## TLS: encrypted download against plain';

async function main(): Promise<void> {
  installCleanup();
  const size = Number(process.env.TLS_BENCH_BYTES ?? 2 ** 30);
  const reps = Number(process.env.TLS_BENCH_REPS ?? 4);
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
      console.log(`tls bench: ${measured ? '' : '(warm-up) '}${kind}: ${fixed(size / 2 ** 20 / (ms / 1000), 0)} MiB/s`);
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
    const section = [
      HEADING,
      '',
      `Written by \`node out/bench/tls-download.js\` on ${new Date().toISOString()} (not part of \`npm run bench\` yet). ${sizeText(size)} of random bytes from one sending process (\`bench/tls-source.ts\`: two \`ContentServer\`s on one file, one plain, one TLS 1.3 with a P-256 key) to the \`Downloader\` in the bench process, over 127.0.0.1: SHA-256 check and the rename included, the file deleted after each run. One warm-up of each, then ${reps} repetitions, TLS and plain alternating with the order flipped each time. Rate: best of the repetitions.`,
      '',
      ...machineLines(),
      '',
      table(['run', 'MiB/s', 'sender CPU s', 'receiver CPU s'], [...per('tls'), ...per('plain')]),
      '',
      `Best: TLS ${fixed(best('tls'), 0)} MiB/s, plain ${fixed(best('plain'), 0)} MiB/s: **TLS / plain = ${fixed(ratio)}** (target >= ${TARGET_RATIO}: ${metText(ratio >= TARGET_RATIO)}). Medians: TLS ${fixed(mid('tls'), 0)}, plain ${fixed(mid('plain'), 0)} MiB/s (${fixed(mid('tls') / mid('plain'))}).`,
      '',
      `CPU per GiB (median; what the machine's other load does not move): sender ${fixed(cpuPerGiB('tls', 'senderCpu'))} s with TLS against ${fixed(cpuPerGiB('plain', 'senderCpu'))} s plain, receiver ${fixed(cpuPerGiB('tls', 'receiverCpu'))} s against ${fixed(cpuPerGiB('plain', 'receiverCpu'))} s. AES-GCM itself runs at about 3 GB/s here (\`openssl speed -evp aes-256-gcm\`, 16 KiB blocks); not measured but likely, most of the rest is Node's TLS stream, which hands the downloader one 16 KiB record per 'data' event (checked) where plain TCP hands it up to 64 KiB, so each GiB makes about four times as many trips through \`SourceConnection\`, the hasher and the write queue.`,
      '',
    ].join('\n');
    const results = path.join(REPO_DIR, 'bench', 'RESULTS.md');
    const text = fs.readFileSync(results, 'utf8');
    // Only this section is replaced (or appended): the other benchmarks' figures stay as they were.
    const at = text.indexOf(HEADING);
    const end = at < 0 ? -1 : text.indexOf('\n## ', at + HEADING.length);
    const before = at < 0 ? text : text.slice(0, at);
    const after = end < 0 ? '' : text.slice(end + 1);
    fs.writeFileSync(results, `${before.trimEnd()}\n\n${section}${after ? `\n${after}` : ''}`);
    console.log(section);
  } finally {
    await sender.quit();
    await removeDir(dir);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
