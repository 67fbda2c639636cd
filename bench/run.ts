// `npm run bench`: runs every benchmark (or --only=...), each a ratio against a baseline measured in the same run, and writes bench/RESULTS.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runActivationBench } from './activation';
import { runDownloadBench } from './download';
import { runIndexBench } from './index-throughput';
import { REPO_DIR, Section, installCleanup, killAllChildren, machineLines, table } from './lib';
import { runListsBench } from './lists';
import { runManySourcesBench } from './many-sources';
import { runPiecesBench } from './pieces';
import { runRegistryBench } from './registry-scale';
import { runTlsBench } from './tls-download';

const BENCHES: { name: string; run: (o: { quick: boolean; log: (line: string) => void }) => Promise<Section> }[] = [
  { name: 'index', run: runIndexBench },
  { name: 'download', run: runDownloadBench },
  { name: 'registry', run: runRegistryBench },
  { name: 'sources', run: runManySourcesBench },
  { name: 'lists', run: runListsBench },
  { name: 'pieces', run: runPiecesBench },
  { name: 'tls', run: runTlsBench },
  { name: 'activation', run: runActivationBench },
];

/** The whole run stops by itself after this, whatever hangs. */
const HARD_LIMIT_MS = 15 * 60_000;

const USAGE = `Usage: node out/bench/run.js [--quick] [--only=${BENCHES.map((b) => b.name).join(',')}] [--out=FILE]

  --quick        smaller sizes, one repetition: for iterating (figures are rougher)
  --only=a,b     run only these benchmarks
  --out=FILE     write the results here instead of bench/RESULTS.md
`;

interface Args {
  quick: boolean;
  only: string[];
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, only: BENCHES.map((b) => b.name), out: path.join(REPO_DIR, 'bench', 'RESULTS.md') };
  for (const a of argv) {
    if (a === '--quick') args.quick = true;
    else if (a.startsWith('--only=')) {
      args.only = a.slice(7).split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = args.only.filter((n) => !BENCHES.some((b) => b.name === n));
      if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}\n${USAGE}`);
    } else if (a.startsWith('--out=')) args.out = path.resolve(a.slice(6));
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  return args;
}

async function main(): Promise<void> {
  installCleanup();
  const args = parseArgs(process.argv.slice(2));
  const hardStop = setTimeout(() => {
    process.stderr.write(`bench: still running after ${HARD_LIMIT_MS / 60_000} min; stopping\n`);
    killAllChildren();
    process.exit(1);
  }, HARD_LIMIT_MS);
  hardStop.unref();

  const started = Date.now();
  const machine = machineLines();
  const log = (line: string): void => void process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const sections: Section[] = [];
  const failures: string[] = [];
  for (const b of BENCHES) {
    if (!args.only.includes(b.name)) continue;
    log(`=== ${b.name}`);
    const t0 = Date.now();
    try {
      const s = await b.run({ quick: args.quick, log });
      s.markdown += `\n\n_${((Date.now() - t0) / 1000).toFixed(0)} s._`;
      sections.push(s);
    } catch (err) {
      const msg = (err as Error)?.stack ?? String(err);
      log(`${b.name} FAILED: ${msg}`);
      failures.push(b.name);
      sections.push({ name: b.name, title: `${b.name}: failed`, markdown: '```\n' + msg + '\n```', summary: [] });
    }
    killAllChildren(); // nothing of one benchmark may disturb the next
  }

  const total = (Date.now() - started) / 1000;
  const doc = render(args, machine, sections, total);
  fs.writeFileSync(args.out, doc);
  log(`wrote ${path.relative(process.cwd(), args.out)} (${total.toFixed(0)} s)`);
  clearTimeout(hardStop);
  process.exitCode = failures.length ? 1 : 0;
}

function render(args: Args, machine: string[], sections: Section[], seconds: number): string {
  const summary = sections.flatMap((s) => s.summary);
  const lines = [
    '# P2P Share benchmarks',
    '',
    `Written by \`${args.quick ? 'node out/bench/run.js --quick' : 'npm run bench'}\`${args.only.length < BENCHES.length ? ` (--only=${args.only.join(',')})` : ''} `
      + `on ${new Date().toISOString()}; the benchmarks took ${Math.round(seconds)} s (the build before them is not counted). `
      + 'Every figure is a ratio against a baseline measured in the same run, baseline and ours interleaved and repeated, '
      + 'because this machine is shared and noisy: absolute numbers move from run to run, the ratios much less.',
    '',
    '## Machine',
    '',
    `- Date: ${new Date().toISOString()}`,
    ...machine,
    '',
    '## Summary',
    '',
    table(['figure', 'value', 'target', ''], summary.map((x) => [x.figure, x.value, x.target, x.met ? 'met' : '**not met**'])),
    '',
    ...sections.flatMap((s, i) => [`## ${i + 1}. ${s.title}`, '', s.markdown, '']),
    '## Fuzzing the index server',
    '',
    fuzzNote(),
    '',
    '## Running',
    '',
    '- `npm run bench`: build, then every benchmark; overwrites this file.',
    '- `node out/bench/run.js --quick`: smaller sizes and one repetition, for iterating (after `npx tsc -p .`).',
    `- \`node out/bench/run.js --only=${BENCHES.map((b) => b.name).join(',')}\`: a subset; \`--out=FILE\` writes elsewhere.`,
    '- Big files go to the OS temp folder and are removed afterwards; CPU profiles of missed targets go to bench/tmp/ (git-ignored).',
    '',
  ];
  return lines.join('\n');
}

/** The fuzz test is run by mocha, not here: millions of datagrams take minutes. */
function fuzzNote(): string {
  const file = path.join(REPO_DIR, 'test', 'unit', 'server-fuzz.test.ts');
  if (!fs.existsSync(file)) {
    return 'test/unit/server-fuzz.test.ts did not exist when this ran, so there is no fuzz mode to point to yet.';
  }
  const text = fs.readFileSync(file, 'utf8');
  if (!text.includes('FUZZ_DATAGRAMS')) {
    return 'test/unit/server-fuzz.test.ts exists but does not read FUZZ_DATAGRAMS, so its size cannot be raised from outside.';
  }
  const timeout = /this\.timeout\(([\d_]+)\)/.exec(text)?.[1]?.replace(/_/g, '');
  return [
    'Not run by the bench (it is a test, and millions of datagrams take minutes). To fuzz the index server at scale'
      + `${timeout ? ` (the suite allows itself ${Number(timeout) / 1000} s, whatever the count)` : ''}:`,
    '',
    '```',
    'npx tsc -p . && FUZZ_DATAGRAMS=2000000 npx mocha out/test/unit/server-fuzz.test.js',
    '```',
  ].join('\n');
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error)?.message ?? err}\n`);
  killAllChildren();
  process.exit(2);
});
