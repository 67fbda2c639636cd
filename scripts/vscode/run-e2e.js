// Runs the end-to-end suite: installs the packaged .vsix into a fresh code-server and drives the UI in Chromium.
//
// Usage: node scripts/vscode/run-e2e.js [VSIX] [--timeout SECONDS]
// Without VSIX it packages one with vsce first. Expects `npx tsc -p .` and `node scripts/bundle.js` to have
// run (the suite is out/test/e2e/*.test.js; the index server and terminal peer are dist/*.js).
// The last line printed is always "e2e: N passed, N failed".
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const SUITE = 'e2e';
const E2E_OUT = path.join(lib.REPO_ROOT, 'out', 'test', 'e2e');
const SCREENSHOTS = path.join(lib.REPO_ROOT, 'test', 'e2e', 'screenshots');
const DOC_IMAGES = path.join(lib.REPO_ROOT, 'docs', 'images');
/**
 * The screenshots README.md shows (run screenshot -> docs/images name), refreshed by a run with
 * P2P_DOCS_IMAGES=1. A step saves its screenshot only after its checks passed, so one that exists shows
 * a state the suite verified.
 */
const DOC_SHOTS = {
  '02-online.png': 'online-content.png',
  '03-downloaded.png': 'p2p-views.png',
  '11-large-download.png': 'large-download.png',
  '20-name-clash.png': 'name-clash.png',
  '21-offline.png': 'offline.png',
};

/** Copies the README's screenshots this run made into docs/images. */
function copyDocImages() {
  const made = Object.keys(DOC_SHOTS).filter((f) => fs.existsSync(path.join(SCREENSHOTS, f)));
  const missing = Object.keys(DOC_SHOTS).filter((f) => !made.includes(f));
  if (missing.length) console.error(`P2P_DOCS_IMAGES: this run made no ${missing.join(', ')}; those stay as they were`);
  for (const shot of made) fs.copyFileSync(path.join(SCREENSHOTS, shot), path.join(DOC_IMAGES, DOC_SHOTS[shot]));
  console.log(`copied ${made.length} screenshots into ${DOC_IMAGES}`);
}

function parseArgs(argv) {
  const opts = { vsix: undefined, timeout: Number(process.env.P2P_VSCODE_TIMEOUT || 900) };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--timeout') opts.timeout = Number(argv[++i]);
    else if (argv[i].startsWith('--')) throw new Error(`unknown option ${argv[i]}`);
    else opts.vsix = path.resolve(argv[i]);
  }
  return opts;
}

/** Packages the extension with vsce into the run folder (no prompts: stdin is closed). */
function packageVsix(dirs) {
  const out = path.join(dirs.root, 'p2p-share.vsix');
  // README links docs/ relatively; docs/ ships in the .vsix, so the links stay relative.
  const args = ['vsce', 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', out];
  // vsce asks before packaging without a LICENSE file; nobody can answer here.
  if (!['LICENSE', 'LICENSE.md', 'LICENSE.txt'].some((f) => fs.existsSync(path.join(lib.REPO_ROOT, f)))) {
    args.push('--skip-license');
  }
  return new Promise((resolve, reject) => {
    const child = lib.track(spawn('npx', args, { cwd: lib.REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }), { name: 'vsce' });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`vsce package exited ${code}\n${output}`))));
  });
}

/** Runs the compiled mocha suite in this process, so the tests share the world the harness built. */
function runMocha(timeoutSeconds, onStart) {
  const Mocha = require(require.resolve('mocha', { paths: [lib.REPO_ROOT] }));
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: false, timeout: 120000, slow: 15000 });
  // P2P_TEST_ONLY=user-journey,... runs only those files: one scenario while iterating, not the suite.
  const only = process.env.P2P_TEST_ONLY && process.env.P2P_TEST_ONLY.split(',').map((n) => `${n.trim().replace(/\.test\.[jt]s$/, '')}.test.js`);
  const files = fs.readdirSync(E2E_OUT).filter((f) => f.endsWith('.test.js') && (!only || only.includes(f))).sort();
  if (!files.length) throw new Error(`no compiled e2e tests in ${E2E_OUT}${only ? ` named ${only.join(', ')}` : ''}; run npx tsc -p .`);
  for (const f of files) mocha.addFile(path.join(E2E_OUT, f));
  return new Promise((resolve) => {
    let runner;
    const timer = setTimeout(() => {
      console.error(`e2e suite timed out after ${timeoutSeconds} s`);
      runner.abort();
      resolve({ passed: runner.stats.passes, failed: Math.max(1, runner.stats.failures) });
    }, timeoutSeconds * 1000);
    runner = mocha.run(() => {
      clearTimeout(timer);
      resolve({ passed: runner.stats.passes, failed: runner.stats.failures });
    });
    onStart(runner);
  });
}

async function main(opts) {
  const t0 = Date.now();
  const step = (what) => console.log(`[${lib.elapsed(t0)}] ${what}`);
  lib.assertVscodeInstalled();
  const worldModule = path.join(E2E_OUT, 'world.js');
  if (!fs.existsSync(worldModule)) throw new Error(`${worldModule} does not exist; build first (npx tsc -p . && node scripts/bundle.js)`);
  // The compiled tests import this same module, so what the harness sets up here is what they see.
  const world = require(worldModule);
  const dirs = lib.createRunRoot(SUITE);
  let result = { passed: 0, failed: 1 };
  let runner;
  lib.onInterrupted(() => {
    lib.disposeRunRoot(dirs, true);
    lib.reportTotals(SUITE, runner ? runner.stats.passes : 0, (runner ? runner.stats.failures : 0) + 1);
  });
  try {
    const vsix = opts.vsix || await packageVsix(dirs);
    if (!fs.existsSync(vsix)) throw new Error(`${vsix} does not exist`);
    step(`${opts.vsix ? 'using' : 'packaged'} ${vsix}`);

    const network = await world.startNetwork({ root: dirs.root, log: path.join(dirs.logs, 'network.log') });
    lib.onCleanup(() => world.stopNetwork());
    step(`index server on ${network.indexAddress}, terminal peer "${network.terminalPeerName}" ready`);

    lib.writeUserSettings(dirs, {
      'p2p.indexServer': network.indexAddress,
      'p2p.downloadFolder': network.downloadFolder,
      // No background polling: what the views show comes from the user's actions and the extension's own updates.
      'p2p.refreshIntervalSeconds': 3600,
      'p2p.peerName': network.extensionPeerName,
      // Low enough that test/e2e/view-gestures.test.ts can show the large-download question with a 2 MiB file.
      'p2p.confirmDownloadAboveBytes': 1024 * 1024,
      // The Explorer stays out of the way: the suite works in the P2P container and the editor.
      'explorer.autoReveal': false,
      'workbench.editor.enablePreview': false,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      'files.hotExit': 'off',
    });
    const installed = await lib.runCodeServerCommand(dirs, ['--install-extension', vsix]);
    step(installed.trim().split('\n').pop());

    const server = await lib.startCodeServer(dirs);
    step(`code-server ready on ${server.url}`);
    const browser = await lib.launchBrowser(dirs);
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    const browserLog = fs.createWriteStream(path.join(dirs.logs, 'browser-console.log'));
    page.on('console', (m) => browserLog.write(`[${m.type()}] ${m.text()}\n`));
    // Screenshots of an earlier run (a failed step's, say) must not pass for this run's.
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    for (const f of fs.readdirSync(SCREENSHOTS)) if (f.endsWith('.png')) fs.rmSync(path.join(SCREENSHOTS, f));
    await page.goto(lib.workbenchUrl(server, network.workspace));
    world.attachWorkbench({ browser, page, screenshotsDir: SCREENSHOTS });
    step('workbench opened; running the suite');

    result = await runMocha(opts.timeout, (r) => { runner = r; });
  } catch (e) {
    console.error(`runner failed: ${e && e.stack || e}`);
    result = { passed: result.passed, failed: Math.max(1, result.failed) };
  }
  await lib.cleanUp();
  step('stopped code-server, Chromium, index server and terminal peer');
  lib.disposeRunRoot(dirs, result.failed > 0);
  if (process.env.P2P_DOCS_IMAGES) copyDocImages();
  return lib.reportTotals(SUITE, result.passed, result.failed);
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(e.message);
  lib.reportTotals(SUITE, 0, 1);
  process.exit(1);
}
main(opts).then((code) => process.exit(code), async (e) => {
  console.error(`runner failed: ${e && e.stack || e}`);
  await lib.cleanUp();
  lib.reportTotals(SUITE, 0, 1);
  process.exit(1);
});
