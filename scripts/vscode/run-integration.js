// Runs the extension's integration suite (test/integration) inside code-server's real extension host.
//
// Usage: node scripts/vscode/run-integration.js [--extension DIR] [--tests FILE] [--suite NAME] [--timeout SECONDS]
// Defaults: this repo, out/test/integration/index.js, "integration", 900 s. Expects `npx tsc -p .` and
// `node scripts/bundle.js` to have run. The last line printed is always "<suite>: N passed, N failed".
'use strict';
const fs = require('fs');
const path = require('path');
const util = require('util');
const lib = require('./lib');

function parseArgs(argv) {
  const opts = {
    extension: lib.REPO_ROOT,
    tests: path.join(lib.REPO_ROOT, 'out', 'test', 'integration', 'index.js'),
    suite: 'integration',
    timeout: Number(process.env.P2P_VSCODE_TIMEOUT || 900),
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--extension') opts.extension = path.resolve(value);
    else if (flag === '--tests') opts.tests = path.resolve(value);
    else if (flag === '--suite') opts.suite = value;
    else if (flag === '--timeout') opts.timeout = Number(value);
    else throw new Error(`unknown argument ${flag}`);
    i++;
  }
  return opts;
}

/** Totals from the suite's own marker line, or from mocha's spec summary when a suite has no marker. */
class TotalsCollector {
  constructor() { this.marker = undefined; this.passing = 0; this.failing = 0; }
  see(line) {
    const marker = /P2P_TEST_TOTALS (\{.*\})/.exec(line);
    if (marker) { try { this.marker = JSON.parse(marker[1]); } catch { /* partial line */ } }
    const passing = /^\s*(\d+) passing/.exec(line);
    if (passing) this.passing = Number(passing[1]);
    const failing = /^\s*(\d+) failing/.exec(line);
    if (failing) this.failing = Number(failing[1]);
  }
  totals() { return this.marker || { passed: this.passing, failed: this.failing }; }
}

async function main(opts) {
  const t0 = Date.now();
  lib.assertVscodeInstalled();
  for (const f of [opts.tests, path.join(opts.extension, 'package.json')]) {
    if (!fs.existsSync(f)) throw new Error(`${f} does not exist; build first (npx tsc -p . && node scripts/bundle.js)`);
  }

  // The suite points p2p.indexServer at its own index server before it activates the extension; should
  // anything activate it earlier, it talks to a port nobody answers on, never to a server someone else
  // runs on the default port.
  const deadIndexPort = await lib.freeUdpPort();
  const dirs = lib.createRunRoot(opts.suite);
  const downloads = path.join(dirs.root, 'downloads');
  fs.mkdirSync(downloads);
  lib.writeUserSettings(dirs, {
    'p2p.indexServer': `127.0.0.1:${deadIndexPort}`,
    'p2p.peerName': 'vscode-it',
    'p2p.listenPort': 0,
    'p2p.downloadFolder': downloads,
  });
  fs.writeFileSync(path.join(dirs.workspace, 'notes.txt'), 'P2P Share integration workspace\n');
  const resultsFile = path.join(dirs.root, 'results.json');
  const totals = new TotalsCollector();
  lib.onInterrupted(() => {
    lib.disposeRunRoot(dirs, true);
    lib.reportTotals(opts.suite, totals.totals().passed, totals.totals().failed + 1);
  });
  let outcome = 'not started';
  try {
    const server = await lib.startCodeServer(dirs, {
      // The built workbench honours the payload's extensionTestsPath only with the smoke-test driver on.
      extraArgs: ['--vscode-option', 'enable-smoke-test-driver'],
      extraEnv: { P2P_TEST_RESULTS_FILE: resultsFile },
    });
    console.log(`code-server ready on ${server.url} after ${lib.elapsed(t0)}`);

    const browser = await lib.launchBrowser(dirs);
    const page = await browser.newPage();
    const browserLog = fs.createWriteStream(path.join(dirs.logs, 'browser-console.log'));
    page.on('console', (m) => browserLog.write(`[${m.type()}] ${m.text()}\n`));

    let finish;
    const finished = new Promise((resolve) => { finish = resolve; });
    // The same channel carries the workbench's own log and the extension host's console; only the
    // latter matters here, and it starts when mocha (or the suite's begin marker) first speaks.
    const workbenchLog = fs.createWriteStream(path.join(dirs.logs, 'workbench.log'));
    let suiteStarted = false;
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const parts = Array.isArray(args) ? args : [args];
      const text = typeof parts[0] === 'string' ? util.format(...parts) : parts.map((a) => JSON.stringify(a)).join(' ');
      workbenchLog.write(`[${type}] ${text}\n`);
      if (!suiteStarted && (parts.length > 1 || text.includes('P2P_TEST_BEGIN'))) suiteStarted = true;
      if (!suiteStarted) return;
      for (const line of text.split('\n')) totals.see(line);
      (type === 'error' ? console.error : console.log)(text);
    });
    await page.exposeFunction('codeAutomationExit', (code) => finish(code));
    page.on('crash', () => finish('page crashed'));
    page.on('close', () => finish('page closed'));
    const timer = setTimeout(() => finish(`timed out after ${opts.timeout} s`), opts.timeout * 1000);

    const payload = [
      ['extensionDevelopmentPath', lib.remoteUri(server, opts.extension)],
      ['extensionTestsPath', lib.remoteUri(server, opts.tests)],
      ['skipWelcome', 'true'],
    ];
    await page.goto(lib.workbenchUrl(server, dirs.workspace, payload));
    outcome = await finished;
    clearTimeout(timer);
  } catch (e) {
    outcome = e;
    console.error(`runner failed: ${e && e.stack || e}`);
  }
  await lib.cleanUp();
  let result = totals.totals();
  try { result = JSON.parse(fs.readFileSync(resultsFile, 'utf8')); } catch { /* suite without a results file */ }
  const ok = outcome === 0;
  if (!ok && !(outcome instanceof Error)) console.error(`extension host finished with: ${outcome}`);
  console.log(`took ${lib.elapsed(t0)}`);
  lib.disposeRunRoot(dirs, !ok);
  // A run that broke before mocha counted anything still has to show up as a failure in the totals.
  const failedCount = !ok && result.failed === 0 ? 1 : result.failed;
  return Math.max(lib.reportTotals(opts.suite, result.passed, failedCount), ok ? 0 : 1);
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(e.message);
  lib.reportTotals('integration', 0, 1);
  process.exit(1);
}
main(opts).then((code) => process.exit(code), async (e) => {
  console.error(`runner failed: ${e && e.stack || e}`);
  await lib.cleanUp();
  lib.reportTotals(opts.suite, 0, 1);
  process.exit(1);
});
