// Benchmark: what checking each piece costs a download, side by side with the whole-file SHA-256 alone, over the same sender.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTestFile } from '../test/support/peers';
import { IndexServerProcess, IpcChild, Section, fixed, flushToDisk, freeBytes, makeTempDir, median, metText, mib, procCpuSeconds, removeDir, sizeText, startIndexServerProcess, table } from './lib';

const CONTENT_NAME = 'bench-pieces.bin';
/** Piece checks may cost at most 5% of the throughput of the whole-file check alone. */
const TARGET_RATIO = 0.95;

export async function runPiecesBench(opts: { quick: boolean; log: (line: string) => void }): Promise<Section> {
  const size = opts.quick ? 256 * 2 ** 20 : 2 ** 30;
  const reps = opts.quick ? 3 : 5;
  const free = await freeBytes(os.tmpdir());
  if (free < 2 * size + 256 * 2 ** 20) {
    return { name: 'pieces', title: 'Pieces: skipped', markdown: `Skipped: ${mib(free)} free in ${os.tmpdir()}.`, summary: [] };
  }
  let dir: string | undefined;
  let index: IndexServerProcess | undefined;
  const kids: IpcChild[] = [];
  try {
    dir = await makeTempDir('pieces');
    const down = path.join(dir, 'down');
    fs.mkdirSync(down);
    opts.log(`pieces: writing a ${sizeText(size)} test file`);
    const file = await writeTestFile(dir, CONTENT_NAME, size);
    await flushToDisk(file.path);
    index = await startIndexServerProcess(['--rate-limit', '0', '--log-level', 'warn']);
    const sender = new IpcChild('sending peer', path.join(__dirname, 'peer-process.js'));
    const receiver = new IpcChild('receiving peer', path.join(__dirname, 'peer-process.js'));
    kids.push(sender, receiver);
    const { port, pin } = await sender.call<{ port: number; pin: string }>('start', { peerName: 'bench-seed', index: index.address, downloadFolder: path.join(dir, 'seed-down') });
    const shared = await sender.call<{ pieceRoot: string }>('register', { path: file.path, contentName: CONTENT_NAME }, 300_000);

    const checked: number[] = [];
    const whole: number[] = [];
    /** CPU seconds per GiB of each run, [sender, receiver] (every thread of each process). */
    const cpu = { checked: [] as [number, number][], whole: [] as [number, number][] };
    const once = async (withRoot: boolean, keep: boolean): Promise<void> => {
      const s0 = procCpuSeconds(sender.proc.pid!);
      const r0 = procCpuSeconds(receiver.proc.pid!);
      const r = await receiver.call<{ ms: number; pieceChecked: boolean; reused: boolean }>(
        'fetch',
        { contentName: CONTENT_NAME, sha256: file.sha256, size, port, pin, pieceRoot: withRoot ? shared.pieceRoot : undefined, folder: down },
        600_000,
      );
      if (r.reused || r.pieceChecked !== withRoot) throw new Error(`a ${withRoot ? 'checked' : 'whole-file'} run came back ${JSON.stringify(r)}`);
      const rate = size / 2 ** 20 / (r.ms / 1000);
      const perGiB = 2 ** 30 / size;
      const used: [number, number] = [(procCpuSeconds(sender.proc.pid!) - s0) * perGiB, (procCpuSeconds(receiver.proc.pid!) - r0) * perGiB];
      if (keep) {
        (withRoot ? checked : whole).push(rate);
        (withRoot ? cpu.checked : cpu.whole).push(used);
      }
      opts.log(`pieces: ${keep ? '' : '(warm-up) '}${withRoot ? 'piece-checked' : 'whole-file only'}: ${fixed(rate, 0)} MiB/s`);
    };
    await once(false, false);
    await once(true, false);
    // Alternating, the order flipped each repetition, so slow spells hit both.
    for (let rep = 0; rep < reps; rep++) {
      const first = rep % 2 === 0;
      await once(first, true);
      await once(!first, true);
    }
    const best = (xs: number[]) => Math.max(...xs);
    const ratio = best(checked) / best(whole);
    const md = [
      `A ${sizeText(size)} file over loopback from one real \`Peer\` (its content server, answering \`P\` from the leaves it took while hashing) to a `
        + `\`Downloader\` in another process, timed there: the same sender, the same file, alternately with the piece root (every 1 MiB piece `
        + `checked on arrival, leaves fetched and checked against the root first) and without (the whole-file SHA-256 alone, as before). `
        + `One unmeasured run of each, then ${reps} of each, alternating; rate: best of the runs.`,
      '',
      table(
        ['download', 'best MiB/s', 'every run, MiB/s', 'CPU s per GiB, sender + receiver (median)'],
        [
          ['whole-file SHA-256 only (baseline)', fixed(best(whole), 0), whole.map((r) => fixed(r, 0)).join(', '), cpuText(cpu.whole)],
          ['piece-checked + whole-file SHA-256', fixed(best(checked), 0), checked.map((r) => fixed(r, 0)).join(', '), cpuText(cpu.checked)],
        ],
      ),
      '',
      `CPU: every thread of each process over the run, from /proc (the receiver's hashing thread and write threads included). `
        + `The piece checks add one more SHA-256 pass over every byte (the leaves) to the whole-file one: `
        + `${fixed(median(cpu.checked.map((c) => c[1])) - median(cpu.whole.map((c) => c[1])))} s per GiB more on the receiver here. `
        + `When the sender, the receiver and its threads already keep both cores busy, that CPU comes straight off the rate.`,
      '',
      `**piece-checked / whole-file only = ${fixed(ratio)}** (target >= ${TARGET_RATIO}: ${metText(ratio >= TARGET_RATIO)}).`,
    ];
    return {
      name: 'pieces',
      title: `Pieces: ${sizeText(size)} download, piece-checked against the whole-file hash alone`,
      markdown: md.join('\n'),
      summary: [{ figure: `Download ${sizeText(size)}, piece-checked / whole-file check only`, value: fixed(ratio), target: `>= ${TARGET_RATIO}`, met: ratio >= TARGET_RATIO }],
    };
  } finally {
    for (const k of kids) await k.quit();
    await index?.child.stop();
    await removeDir(dir);
  }
}

/** "sender + receiver" CPU seconds per GiB, medians of the runs. */
function cpuText(runs: [number, number][]): string {
  return `${fixed(median(runs.map((r) => r[0])))} + ${fixed(median(runs.map((r) => r[1])))}`;
}
