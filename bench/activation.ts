// Benchmark 9: the extension in real VS Code (code-server + headless Chromium): activate() to the first Online Content row with 1,000 entries online, split by step, beside a trivial extension's tree.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { IndexClient } from '../src/peer/index-client';
import { REPO_DIR, Section, fixed, median, metText, sizeText, startIndexServerProcess, table } from './lib';

export interface ActivationBenchOptions {
  quick: boolean;
  log: (line: string) => void;
}

/** Issue 15: activation to the first rendered view, and the size of what users download. */
const TARGET_MS = 200;
const TARGET_VSIX_BYTES = 1024 * 1024;
const ENTRIES = 1000;
const BASELINE_DIR = path.join(REPO_DIR, 'bench', 'activation-baseline');
/** An extension that says, in the status bar, that the extension host is up and its startup activations are done; clicked, it reports both extensions' start-up marks. */
const PROBE_DIR = path.join(REPO_DIR, 'bench', 'activation-probe');
const PROBE_TEXT = 'bench-host-ready';
const MARKS_LABEL = 'bench-marks:';
/** Each window's first row must show within this, or the run fails rather than hangs. */
const ROW_TIMEOUT_MS = 60_000;

/** What one click-to-first-row measurement looks for: the icon to click and the pane and row text to wait for. */
interface Target {
  icon: string;
  pane: string;
  row: string;
}
const OURS: Target = { icon: 'P2P', pane: 'Online Content', row: 'bench-file-' };
const BASELINE: Target = { icon: 'Baseline', pane: 'Baseline Rows', row: 'baseline-file-' };

/** One timed click: its span by the page's monotonic clock, and both ends by the wall clock the extension host shares. */
interface Click {
  ms: number;
  downAt: number;
  rowAt: number;
}
/** Wall-clock marks an extension keeps (src/extension/startup-marks.ts; the baseline keeps activate and firstRows). */
type Marks = Partial<Record<'loaded' | 'evaluated' | 'activate' | 'activated' | 'firstChildren' | 'firstPage' | 'firstRows' | 'secret' | 'engineStarted', number>>;
/** One window's measurements. */
interface WindowRun {
  ours: Click;
  base: Click;
  oursMarks: Marks;
  baseMarks: Marks;
}

export async function runActivationBench(opts: ActivationBenchOptions): Promise<Section> {
  // The harness is plain JS shared with scripts/vscode/run-*.js; loaded only here, as it installs its own exit handlers.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const vsc = require(path.join(REPO_DIR, 'scripts', 'vscode', 'lib.js'));
  try {
    vsc.assertVscodeInstalled();
  } catch (err) {
    const note = `Skipped: ${(err as Error).message}. Set VSC_DIR to a folder prepared by scripts/setup-vscode.sh.`;
    opts.log(`activation: ${note}`);
    return { name: 'activation', title: 'Extension activation in real VS Code: skipped', markdown: note, summary: [] };
  }
  const runs = opts.quick ? 2 : 5;
  const dirs = vsc.createRunRoot('bench-activation');
  let failed = true;
  const server = await startIndexServerProcess([
    '--rate-limit', '0', '--max-per-peer', String(ENTRIES), '--max-per-address', String(ENTRIES), '--max-per-secret', String(ENTRIES),
    '--ttl', '3600', '--log-level', 'warn',
  ]);
  try {
    const vsix = process.env.P2P_VSIX ? path.resolve(process.env.P2P_VSIX) : await packageVsix(REPO_DIR, path.join(dirs.root, 'p2p-share.vsix'));
    // The baseline is installed the same way, so both load as a user's extensions do.
    const baselineVsix = await packageVsix(BASELINE_DIR, path.join(dirs.root, 'baseline.vsix'), ['--skip-license']);
    const probeVsix = await packageVsix(PROBE_DIR, path.join(dirs.root, 'probe.vsix'), ['--skip-license']);
    const vsixBytes = fs.statSync(vsix).size;
    opts.log(`activation: ${path.basename(vsix)} is ${sizeText(vsixBytes)}`);

    await registerEntries(server.host, server.port);
    opts.log(`activation: ${ENTRIES} entries registered with the index on ${server.address}`);
    vsc.writeUserSettings(dirs, {
      'p2p.indexServer': server.address,
      'p2p.peerName': 'bench-viewer',
      'p2p.listenPort': 0,
      'p2p.downloadFolder': path.join(dirs.root, 'downloads'),
      'p2p.refreshIntervalSeconds': 3600,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
    });
    for (const v of [vsix, baselineVsix, probeVsix]) await vsc.runCodeServerCommand(dirs, ['--install-extension', v]);
    const code = await vsc.startCodeServer(dirs);
    const browser = await vsc.launchBrowser(dirs);

    const windows: WindowRun[] = [];
    // Window 0 warms the disk cache and code-server's own caches; it is measured but not counted.
    for (let i = 0; i <= runs; i++) {
      // A fresh workspace folder per window: fresh workspace state, so no container is remembered open.
      const workspace = path.join(dirs.root, `workspace-${i}`);
      fs.mkdirSync(workspace, { recursive: true });
      const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
      try {
        await page.goto(vsc.workbenchUrl(code, workspace));
        for (const t of [OURS, BASELINE]) await page.locator(iconSelector(t)).waitFor({ timeout: ROW_TIMEOUT_MS });
        // Without this the first click of a window would also pay for the extension host's own start.
        await page.locator('.part.statusbar', { hasText: PROBE_TEXT }).waitFor({ timeout: ROW_TIMEOUT_MS });
        // Alternate which goes first, so neither always gets the quieter extension host.
        const order = i % 2 === 0 ? [OURS, BASELINE] : [BASELINE, OURS];
        const got = new Map<Target, Click>();
        for (const t of order) got.set(t, await clickToFirstRow(page, t));
        const marks = await readMarks(page);
        const run: WindowRun = { ours: got.get(OURS)!, base: got.get(BASELINE)!, oursMarks: marks.p2p ?? {}, baseMarks: marks.baseline ?? {} };
        const fromActivate = run.oursMarks.activate ? `${run.ours.rowAt - run.oursMarks.activate} ms from activate()` : 'no activate() mark';
        opts.log(`activation: window ${i}${i === 0 ? ' (warm-up)' : ''}: P2P ${run.ours.ms.toFixed(0)} ms from the click (${fromActivate}), baseline ${run.base.ms.toFixed(0)} ms`);
        if (i > 0) windows.push(run);
      } finally {
        await page.close();
      }
    }
    failed = false;
    return section(windows, vsixBytes, runs);
  } finally {
    await vsc.cleanUp();
    await server.child.stop();
    vsc.disposeRunRoot(dirs, failed);
  }
}

function iconSelector(t: Target): string {
  return `.part.activitybar .action-item .action-label[aria-label^="${t.icon}"]`;
}

/**
 * The span is the page's performance.now() from the pointerdown on the activity-bar icon (what the user
 * does; the container opening makes the view visible, which is the extension's activation event) to the
 * DOM mutation that puts the first row with the expected text into the view's list. Both ends are also
 * taken by Date.now(), to place them among the extension host's marks.
 */
async function clickToFirstRow(page: any, t: Target): Promise<Click> {
  await page.evaluate(({ icon, pane, row }: Target & { icon: string }) => {
    // Runs in the page; this project compiles without the DOM types, so the page's globals are reached untyped.
    const w = globalThis as any;
    const document = w.document;
    w.__bench = { t0: 0, t1: 0, down: 0, row: 0 };
    const seen = (): boolean => {
      for (const p of document.querySelectorAll('.part.sidebar .pane') as any[]) {
        if (!p.querySelector('.pane-header')?.textContent?.includes(pane)) continue;
        for (const r of p.querySelectorAll('.monaco-list-row') as any[]) if (r.textContent?.includes(row)) return true;
      }
      return false;
    };
    const observer = new w.MutationObserver(() => {
      if (w.__bench.t0 && seen()) {
        w.__bench.t1 = performance.now();
        w.__bench.row = Date.now();
        observer.disconnect();
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
    document.querySelector(icon).addEventListener('pointerdown', () => {
      w.__bench.t0 = performance.now();
      w.__bench.down = Date.now();
    }, { capture: true, once: true });
  }, { ...t, icon: iconSelector(t) });
  await page.locator(iconSelector(t)).click();
  await page.waitForFunction(() => (globalThis as any).__bench.t1 > 0, undefined, { timeout: ROW_TIMEOUT_MS });
  return page.evaluate(() => {
    const b = (globalThis as any).__bench;
    return { ms: b.t1 - b.t0, downAt: b.down, rowAt: b.row };
  });
}

/** Clicks the probe's status bar item, which reads both extensions' marks in the extension host and puts them in its label. */
async function readMarks(page: any): Promise<{ p2p?: Marks; baseline?: Marks }> {
  await page.locator('.part.statusbar .statusbar-item', { hasText: PROBE_TEXT }).locator('a, .statusbar-item-label').first().click();
  const item = page.locator(`.part.statusbar [aria-label^="${MARKS_LABEL}"]`).first();
  await item.waitFor({ timeout: ROW_TIMEOUT_MS });
  return JSON.parse(((await item.getAttribute('aria-label')) as string).slice(MARKS_LABEL.length));
}

/** 1,000 real R requests from ten peers, as the index would hear them from a busy network. */
async function registerEntries(host: string, port: number): Promise<void> {
  const client = new IndexClient({ address: { host, port }, maxInFlight: 64 });
  try {
    const secret = randomBytes(32);
    const sha = randomBytes(32);
    const all = [];
    for (let k = 0; k < ENTRIES; k++) all.push(client.register(`peer-${k % 10}`, secret, 4000, `bench-file-${String(k).padStart(4, '0')}.dat`, 1000 + k, sha));
    await Promise.all(all);
  } finally {
    await client.close();
  }
}

/** vsce package of the extension in `dir`, as `npm run package` does it, into `out`. */
function packageVsix(dir: string, out: string, extra: string[] = []): Promise<string> {
  const args = ['vsce', 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', ...extra, '--out', out];
  return new Promise((resolve, reject) => {
    const child = spawn('npx', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`vsce package exited ${code}\n${output}`))));
  });
}

/** Median over the windows of `span` (windows where a mark is missing are left out); n/a when none has it. */
function medianOf(windows: WindowRun[], span: (w: WindowRun) => number | undefined): { median: number; each: number[] } {
  const each = windows.map(span).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return { median: each.length > 0 ? median(each) : NaN, each };
}

function between(from: number | undefined, to: number | undefined): number | undefined {
  return from === undefined || to === undefined ? undefined : to - from;
}

function section(windows: WindowRun[], vsixBytes: number, runs: number): Section {
  const spread = (xs: number[]) => (xs.length > 0 ? `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}` : 'n/a');
  const row = (what: string, span: (w: WindowRun) => number | undefined): (string | number)[] => {
    const m = medianOf(windows, span);
    return [what, fixed(m.median, 0), spread(m.each), m.each.map((x) => x.toFixed(0)).join(', ')];
  };
  const ours = medianOf(windows, (w) => w.ours.ms).median;
  const base = medianOf(windows, (w) => w.base.ms).median;
  const fromActivate = medianOf(windows, (w) => between(w.oursMarks.activate, w.ours.rowAt)).median;
  const markdown = [
    `Real VS Code (code-server, headless Chromium), the built .vsix installed, an index server holding ${ENTRIES} entries registered by R requests. `
      + `${runs} fresh windows (plus one warm-up, not counted), each a new workspace folder. In each window, once the extension host has `
      + 'finished starting (bench/activation-probe, activated onStartupFinished, shows a status bar item): a click on the activity-bar icon '
      + 'to the first row of the view in the DOM, by the page\'s performance.now() (pointerdown, then the mutation that adds the row). '
      + 'The baseline, in the same window, order alternating: bench/activation-baseline, an extension whose tree returns 1,000 fixed rows and loads nothing else. '
      + 'The split: both extensions note the wall clock (Date.now()) at their steps (src/extension/startup-marks.ts; the baseline at activate() and its first getChildren), '
      + 'the page notes it at the pointerdown and at the row, and after both clicks the probe reads the marks out of the extension host. '
      + 'Wall-clock spans between the page and the extension host are good to about a millisecond.',
    '',
    table(['span', 'median ms', 'spread ms', 'each ms'], [
      row('**P2P: activate() to first Online Content row on screen (the target)**', (w) => between(w.oursMarks.activate, w.ours.rowAt)),
      row('P2P: click to first row (what the user waits for)', (w) => w.ours.ms),
      row('P2P: click to bundle running (VS Code opens the container, reads and compiles dist/extension.js)', (w) => between(w.ours.downAt, w.oursMarks.loaded)),
      row('P2P: bundle running to its modules all run (their top-level code)', (w) => between(w.oursMarks.loaded, w.oursMarks.evaluated)),
      row('P2P: modules run to activate() (VS Code builds the extension context)', (w) => between(w.oursMarks.evaluated, w.oursMarks.activate)),
      row('P2P: activate() to activate() returned', (w) => between(w.oursMarks.activate, w.oursMarks.activated)),
      row('P2P: activate() to the view\'s first getChildren', (w) => between(w.oursMarks.activate, w.oursMarks.firstChildren)),
      row('P2P: activate() to the peer secret read', (w) => between(w.oursMarks.activate, w.oursMarks.secret)),
      row('P2P: activate() to the first O page', (w) => between(w.oursMarks.activate, w.oursMarks.firstPage)),
      row('P2P: activate() to rows handed to VS Code (getChildren)', (w) => between(w.oursMarks.activate, w.oursMarks.firstRows)),
      row('P2P: rows handed to VS Code to row on screen', (w) => between(w.oursMarks.firstRows, w.ours.rowAt)),
      row('P2P: activate() to engine started (certificate, content server, probe)', (w) => between(w.oursMarks.activate, w.oursMarks.engineStarted)),
      row('baseline: click to first row', (w) => w.base.ms),
      row('baseline: click to activate() (VS Code\'s own part)', (w) => between(w.base.downAt, w.baseMarks.activate)),
      row('baseline: activate() to first row on screen', (w) => between(w.baseMarks.activate, w.base.rowAt)),
      ['ratio P2P / baseline, click to first row', fixed(ours / base), '', ''],
    ]),
    '',
    `The .vsix: ${sizeText(vsixBytes)} (target < 1 MiB): ${metText(vsixBytes < TARGET_VSIX_BYTES)}.`,
  ].join('\n');
  return {
    name: 'activation',
    title: `Extension activation in real VS Code: activate() to the first Online Content row with ${ENTRIES} entries online`,
    markdown,
    summary: [
      { figure: `Extension: activate() to first Online Content row on screen, ${ENTRIES} entries online`, value: `${fixed(fromActivate, 0)} ms`, target: `< ${TARGET_MS} ms`, met: fromActivate < TARGET_MS },
      { figure: `Extension: click on the P2P icon to first Online Content row (× trivial extension)`, value: `${fixed(ours, 0)} ms (${fixed(ours / base)}×)`, target: '(reported)', met: true },
      { figure: 'Extension: .vsix size', value: sizeText(vsixBytes), target: '< 1 MiB', met: vsixBytes < TARGET_VSIX_BYTES },
    ],
  };
}
