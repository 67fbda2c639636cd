// Benchmark 2: one big file from one peer process to another through the real engine, against a raw TCP pipe plus SHA-256 of the same bytes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTestFile } from '../test/support/peers';
import {
  BENCH_TMP, IndexServerProcess, IpcChild, RssWatch, Section, fixed, flushToDisk, formatFrames, freeBytes, median, makeTempDir, metText, mib,
  newestProfile, procCpuSeconds, procStatusBytes, removeDir, sizeText, startIndexServerProcess, table, topFrames,
} from './lib';
import { startCurl, startRsync, ToolFetch } from './tool-baselines';

export interface DownloadBenchOptions {
  quick: boolean;
  log: (line: string) => void;
}

const TARGET_RATIO = 0.85;
const TARGET_RSS_BYTES = 64 * 2 ** 20;
/** Issue 15: a fresh copy with full verification no slower than the tools people use instead. */
const TARGET_TOOL_TIME = 1;
const CONTENT_NAME = 'bench-big.bin';

interface PeerDownload {
  ms: number;
  path: string;
  size: number;
  sha256: string;
  sources: string[];
  reused: boolean;
}

interface RawResult {
  ms: number;
  bytes: number;
  sha256: string;
  /** CPU seconds the sending and the receiving process used during the transfer (thread pools included). */
  senderCpu: number;
  receiverCpu: number;
}

interface OursRun {
  ms: number;
  /** Whether the peaks came from the kernel's reset high-water mark (exact) or from polling. */
  exactPeaks: boolean;
  senderCpu: number;
  receiverCpu: number;
  senderPeak: number;
  receiverPeak: number;
  senderIdle: number;
  receiverIdle: number;
}

export async function runDownloadBench(opts: DownloadBenchOptions): Promise<Section> {
  const size = opts.quick ? 128 * 2 ** 20 : 2 ** 30;
  const reps = opts.quick ? 1 : 4;
  const tmp = os.tmpdir();
  const needed = 2 * size + 256 * 2 ** 20;
  const free = await freeBytes(tmp);
  if (free < needed) {
    const note = `Skipped: ${mib(free)} free in ${tmp}, and a ${sizeText(size)} run needs ${mib(needed)} (the file and one copy at a time).`;
    opts.log(`download: ${note}`);
    return skipped(note);
  }

  let dir: string | undefined;
  let index: IndexServerProcess | undefined;
  const kids: IpcChild[] = [];
  const tools: ToolFetch[] = [];
  const child = (label: string, script: string, execArgv: string[] = []): IpcChild => {
    const c = new IpcChild(label, path.join(__dirname, script), { execArgv });
    kids.push(c);
    return c;
  };
  try {
    dir = await makeTempDir('download');
    const down = path.join(dir, 'down');
    fs.mkdirSync(down);
    opts.log(`download: writing a ${sizeText(size)} test file`);
    const file = await writeTestFile(dir, CONTENT_NAME, size);
    await flushToDisk(file.path);

    index = await startIndexServerProcess(['--rate-limit', '0', '--log-level', 'warn']);
    const sender = child('sending peer', 'peer-process.js', ['--expose-gc']);
    const receiver = child('receiving peer', 'peer-process.js', ['--expose-gc']);
    await sender.call('start', { peerName: 'bench-seed', index: index.address, downloadFolder: path.join(dir, 'seed-down') });
    await receiver.call('start', { peerName: 'bench-leech', index: index.address, downloadFolder: down });
    opts.log('download: the sending peer hashes and registers the file');
    await sender.call('register', { path: file.path, contentName: CONTENT_NAME }, 300_000);

    const rawSender = child('raw pipe sender', 'raw-pipe.js');
    const rawReceiver = child('raw pipe receiver', 'raw-pipe.js');
    const { port: rawPort } = await rawSender.call<{ port: number }>('serve', { file: file.path });

    // The tools people use instead; a missing one is skipped with a note.
    const toolNotes: string[] = [];
    for (const start of [() => startRsync(file.path, dir!), () => startCurl(file.path, size)]) {
      try {
        tools.push(await start());
      } catch (err) {
        toolNotes.push((err as Error).message);
      }
    }
    const toolRuns = new Map<string, number[]>(tools.map((t) => [t.label, []]));
    const runTool = async (tool: ToolFetch): Promise<void> => {
      const out = path.join(dir!, `${tool.label}-copy.bin`);
      const ms = await tool.fetch(out);
      const got = fs.statSync(out).size;
      await fs.promises.rm(out, { force: true });
      if (got !== size) throw new Error(`${tool.label} saved ${got} bytes of ${size}`);
      if (!warmingUp) toolRuns.get(tool.label)!.push(ms);
      opts.log(`download: ${warmingUp ? '(warm-up) ' : ''}${tool.label}: ${fixed(size / 2 ** 20 / (ms / 1000), 0)} MiB/s`);
    };

    const rawRuns: RawResult[] = [];
    const rawWriteRuns: RawResult[] = [];
    const ours: OursRun[] = [];
    /** Every download through the engine, the warm-up included: memory peaks count from the very first one. */
    const oursAll: OursRun[] = [];
    let warmingUp = false;
    const runRaw = async (write: boolean): Promise<void> => {
      const out = path.join(dir!, 'raw-copy.bin');
      const send0 = procCpuSeconds(rawSender.pid);
      const recv0 = procCpuSeconds(rawReceiver.pid);
      const r = await rawReceiver.call<RawResult>('receive', { port: rawPort, writeTo: write ? out : undefined }, 300_000);
      r.senderCpu = procCpuSeconds(rawSender.pid) - send0;
      r.receiverCpu = procCpuSeconds(rawReceiver.pid) - recv0;
      await fs.promises.rm(out, { force: true });
      if (r.sha256 !== file.sha256 || r.bytes !== size) throw new Error(`the raw pipe delivered ${r.bytes} bytes hashing to ${r.sha256}`);
      if (!warmingUp) (write ? rawWriteRuns : rawRuns).push(r);
      opts.log(`download: ${warmingUp ? '(warm-up) ' : ''}raw pipe${write ? ' + write' : ''}: ${fixed(size / 2 ** 20 / (r.ms / 1000), 0)} MiB/s`);
    };
    const runOurs = async (): Promise<void> => {
      const last = await downloadOnce(sender, receiver, file.sha256, size);
      oursAll.push(last);
      if (!warmingUp) ours.push(last);
      opts.log(`download: ${warmingUp ? '(warm-up) ' : ''}ours: ${fixed(size / 2 ** 20 / (last.ms / 1000), 0)} MiB/s, RSS above idle: sender ${mib(last.senderPeak - last.senderIdle)}, receiver ${mib(last.receiverPeak - last.receiverIdle)}`);
    };
    // The three alternate, in an order that rotates each repetition, so slow spells hit every one.
    const steps = [() => runRaw(false), runOurs, () => runRaw(true), ...tools.map((t) => () => runTool(t))];
    // One unmeasured round first: each process's first transfer grows its heap and faults its pages in.
    warmingUp = true;
    for (const step of steps) await step();
    warmingUp = false;
    for (let rep = 0; rep < reps; rep++) {
      for (let k = 0; k < steps.length; k++) await steps[(k + rep) % steps.length]();
    }

    for (const t of tools) await t.stop();
    const rate = (ms: number): number => size / 2 ** 20 / (ms / 1000);
    const bestRate = (runs: { ms: number }[]): number => Math.max(...runs.map((r) => rate(r.ms)));
    const oursRate = bestRate(ours);
    const rawRate = bestRate(rawRuns);
    const rawWriteRate = bestRate(rawWriteRuns);
    const ratio = oursRate / rawRate;
    const senderAbove = Math.max(...oursAll.map((r) => r.senderPeak - r.senderIdle));
    const receiverAbove = Math.max(...oursAll.map((r) => r.receiverPeak - r.receiverIdle));
    const rssMet = senderAbove < TARGET_RSS_BYTES && receiverAbove < TARGET_RSS_BYTES;

    let holdsBack = '';
    if (ratio < TARGET_RATIO) {
      opts.log('download: target missed; profiling both peers over one more download (not measured)');
      holdsBack = await profileDownload(index.address, file.path, file.sha256, dir).catch((err) => `profiling failed: ${(err as Error).message}`);
    }

    const times = (runs: { ms: number }[]): string => runs.map((r) => (r.ms / 1000).toFixed(2)).join(', ');
    const gib = size / 2 ** 30;
    const cpuPerGiB = (runs: { senderCpu: number; receiverCpu: number }[]): string =>
      `${fixed(median(runs.map((r) => r.senderCpu / gib)))} + ${fixed(median(runs.map((r) => r.receiverCpu / gib)))}`;
    const bestMs = (xs: number[]): number => Math.min(...xs);
    const oursMs = bestMs(ours.map((r) => r.ms));
    /** Wall time of ours over the tool's, best against best: at most 1 means ours is no slower. */
    const timeRatio = (label: string): number => oursMs / bestMs(toolRuns.get(label)!);
    const toolRows = (): (string | number)[][] =>
      tools.map((t) => {
        const runs = toolRuns.get(t.label)!;
        const what = t.label === 'rsync' ? 'rsync daemon on 127.0.0.1 → rsync client (fresh copy, whole-file checksum)' : 'node:http server → curl (no check)';
        return [what, fixed(bestRate(runs.map((ms) => ({ ms }))), 0), times(runs.map((ms) => ({ ms }))), 'not measured', fixed(1 / timeRatio(t.label))];
      });
    const toolSummary = tools.map((t) => {
      const r = timeRatio(t.label);
      return { figure: `Download ${sizeText(size)} fresh, wall time ours / ${t.label}`, value: fixed(r), target: `<= ${TARGET_TOOL_TIME}`, met: r <= TARGET_TOOL_TIME };
    });
    const md = [
      `A ${sizeText(size)} file (random blocks) over loopback. Ours: three processes (\`node out/src/server/main.js\` and two bench/peer-process.ts, each a real `
        + `\`Peer\`); the receiving peer's \`download()\` is timed inside its process: S at the index, D/C from the sender, the .part file written, `
        + `the whole-file SHA-256 checked, the file renamed into place (sharing it afterwards is turned off). Baselines (bench/raw-pipe.ts, two processes): `
        + `\`fs.createReadStream\` (512 KiB reads) piped into a socket, the receiver hashing every chunk with SHA-256; the second one also writes the `
        + `file to disk, as ours does. One unmeasured warm-up round, then ${reps} repetition(s), the three interleaved in a rotating order; rate: `
        + `best of the repetitions. The source `
        + `file is in the page cache for all of them.`,
      '',
      table(
        ['transfer', 'best MiB/s', 'seconds per run', 'CPU s per GiB, sender + receiver (median)', 'ours / this'],
        [
          ['ours: Peer → Peer (S, D, C, write, SHA-256 check)', fixed(oursRate, 0), times(ours), cpuPerGiB(ours), '1.00'],
          ['raw TCP pipe + SHA-256 (the figure\'s baseline)', fixed(rawRate, 0), times(rawRuns), cpuPerGiB(rawRuns), `**${fixed(ratio)}**`],
          ['raw TCP pipe + SHA-256 + write to disk', fixed(rawWriteRate, 0), times(rawWriteRuns), cpuPerGiB(rawWriteRuns), fixed(oursRate / rawWriteRate)],
          ...toolRows(),
        ],
      ),
      '',
      `Ours runs as every download does by default: over TLS 1.3 with the sender's pin checked, every 1 MiB piece checked against its leaf `
        + `and the whole-file SHA-256 checked (both on the receiver's hashing thread). rsync and curl are timed from their start to their exit `
        + `(their process start-up included, ours is timed inside the running peer); each saves a fresh copy that is deleted after the run. `
        + (toolNotes.length > 0 ? `Skipped: ${toolNotes.join('; ')}. ` : '')
        + tools.map((t) => `**Wall time ours / ${t.label} = ${fixed(timeRatio(t.label))}** (best against best; target <= ${TARGET_TOOL_TIME}: ${metText(timeRatio(t.label) <= TARGET_TOOL_TIME)}).`).join(' '),
      '',
      `**ours / raw pipe + hash = ${fixed(ratio)}** (target >= ${TARGET_RATIO}: ${metText(ratio >= TARGET_RATIO)}); against the baseline that also writes: ${fixed(oursRate / rawWriteRate)}.`,
      '',
      'Memory: RSS of each peer process just before a download (after a GC) and its peak during the download, '
        + (oursAll.every((r) => r.exactPeaks)
          ? 'read from the kernel\'s high-water mark (VmHWM, reset through /proc/<pid>/clear_refs just before the download), so no peak is missed'
          : 'from VmRSS polled every 50 ms (the kernel\'s high-water mark could not be reset here, so a shorter peak may be missed)')
        + '; the worst download counts, the first (warm-up) one included.',
      '',
      table(
        ['peer', 'idle RSS', 'peak RSS during download', 'above idle', 'target', ''],
        [
          ['sender (content server)', mib(Math.max(...oursAll.map((r) => r.senderIdle))), mib(Math.max(...oursAll.map((r) => r.senderPeak))), mib(senderAbove), '< 64 MiB', metText(senderAbove < TARGET_RSS_BYTES)],
          ['receiver (downloader)', mib(Math.max(...oursAll.map((r) => r.receiverIdle))), mib(Math.max(...oursAll.map((r) => r.receiverPeak))), mib(receiverAbove), '< 64 MiB', metText(receiverAbove < TARGET_RSS_BYTES)],
        ],
      ),
    ];
    if (holdsBack) {
      const cpu = (runs: { senderCpu: number; receiverCpu: number }[], side: 'senderCpu' | 'receiverCpu'): number => median(runs.map((r) => r[side] / gib));
      md.push(
        '',
        `What holds it back: the figure's baseline never writes the file, and ours must (the .part file, then a rename). On this machine `
          + `writing alone takes the raw pipe from ${fixed(rawRate, 0)} to ${fixed(rawWriteRate, 0)} MiB/s (raw + write / raw = `
          + `${fixed(rawWriteRate / rawRate)}): that is what saving the file costs here, measured in the same run, and ours reaches `
          + `${fixed(oursRate / rawWriteRate)} of the writing baseline. The CPU column says where the time goes with two cores shared by sender, `
          + `receiver and the receiver's write threads: ours' receiver uses ${fixed(cpu(ours, 'receiverCpu'))} CPU s per GiB against `
          + `${fixed(cpu(rawWriteRuns, 'receiverCpu'))} for the writing baseline and ${fixed(cpu(rawRuns, 'receiverCpu'))} for the hashing-only `
          + `one; the senders use ${fixed(cpu(ours, 'senderCpu'))} (ours) and ${fixed(cpu(rawRuns, 'senderCpu'))} (raw). Profiles, ${holdsBack}`,
      );
    }
    return {
      name: 'download',
      title: `Download: ${sizeText(size)} peer to peer over loopback`,
      markdown: md.join('\n'),
      summary: [
        { figure: `Download ${sizeText(size)}, ours / raw TCP pipe + SHA-256`, value: fixed(ratio), target: `>= ${TARGET_RATIO}`, met: ratio >= TARGET_RATIO },
        ...toolSummary,
        {
          figure: 'Download, peak RSS above idle (sender / receiver)',
          value: `${mib(senderAbove)} / ${mib(receiverAbove)}`,
          target: '< 64 MiB each',
          met: rssMet,
        },
      ],
    };
  } finally {
    for (const t of tools) await t.stop();
    for (const k of kids) await k.quit();
    await index?.child.stop();
    await removeDir(dir);
  }
}

/** One download through the engine, with both peers' RSS watched from outside; the copy is deleted afterwards. */
async function downloadOnce(sender: IpcChild, receiver: IpcChild, sha256: string, size: number): Promise<OursRun> {
  await sender.call('settle');
  await receiver.call('settle');
  const senderIdle = procStatusBytes(sender.pid) ?? NaN;
  const receiverIdle = procStatusBytes(receiver.pid) ?? NaN;
  const senderWatch = new RssWatch(sender.pid);
  const receiverWatch = new RssWatch(receiver.pid);
  const send0 = procCpuSeconds(sender.pid);
  const recv0 = procCpuSeconds(receiver.pid);
  let r: PeerDownload;
  let senderPeak: number;
  let receiverPeak: number;
  try {
    r = await receiver.call<PeerDownload>('download', { contentName: CONTENT_NAME, sha256 }, 600_000);
  } finally {
    senderPeak = senderWatch.stop();
    receiverPeak = receiverWatch.stop();
  }
  const senderCpu = procCpuSeconds(sender.pid) - send0;
  const receiverCpu = procCpuSeconds(receiver.pid) - recv0;
  await receiver.call('remove', { path: r.path });
  if (r.reused) throw new Error('the receiver reused an earlier copy instead of downloading');
  if (r.sha256 !== sha256 || r.size !== size) throw new Error(`ours delivered ${r.size} bytes with SHA-256 ${r.sha256}`);
  return { ms: r.ms, exactPeaks: senderWatch.hwmReset && receiverWatch.hwmReset, senderCpu, receiverCpu, senderPeak, receiverPeak, senderIdle, receiverIdle };
}

/** Two fresh peers under --cpu-prof for one download; the sender's profile also holds its hashing of the file at registration. */
async function profileDownload(indexAddress: string, file: string, sha256: string, dir: string): Promise<string> {
  const profDir = path.join(BENCH_TMP, 'prof-download');
  await removeDir(profDir);
  const sendDir = path.join(profDir, 'sender');
  const recvDir = path.join(profDir, 'receiver');
  fs.mkdirSync(sendDir, { recursive: true });
  fs.mkdirSync(recvDir, { recursive: true });
  const down = path.join(dir, 'prof-down');
  const sender = new IpcChild('profiled sender', path.join(__dirname, 'peer-process.js'), { execArgv: ['--expose-gc', '--cpu-prof', `--cpu-prof-dir=${sendDir}`] });
  const receiver = new IpcChild('profiled receiver', path.join(__dirname, 'peer-process.js'), { execArgv: ['--expose-gc', '--cpu-prof', `--cpu-prof-dir=${recvDir}`] });
  try {
    await sender.call('start', { peerName: 'bench-prof-seed', index: indexAddress, downloadFolder: path.join(dir, 'prof-seed-down') });
    await receiver.call('start', { peerName: 'bench-prof-leech', index: indexAddress, downloadFolder: down });
    await sender.call('register', { path: file, contentName: 'bench-prof.bin' }, 300_000);
    const r = await receiver.call<PeerDownload>('download', { contentName: 'bench-prof.bin', sha256 }, 600_000);
    await receiver.call('remove', { path: r.path });
  } finally {
    await sender.quit(15_000);
    await receiver.quit(15_000);
    await removeDir(down);
  }
  const parts: string[] = [];
  for (const [who, d] of [['receiver', recvDir], ['sender (includes hashing the file at registration)', sendDir]] as const) {
    const f = newestProfile(d);
    parts.push(f ? `${who}: ${formatFrames(topFrames(f, 8))}` : `${who}: no profile written`);
  }
  return `top self-time frames of the main threads (node --cpu-prof, bench/tmp/prof-download/; the write threads are not in them): ${parts.join('. ')}.`;
}

function skipped(note: string): Section {
  return {
    name: 'download',
    title: 'Download: 1 GiB peer to peer over loopback',
    markdown: note,
    summary: [{ figure: 'Download 1 GiB, ours / raw TCP pipe + SHA-256', value: 'skipped', target: `>= ${TARGET_RATIO}`, met: false }],
  };
}
