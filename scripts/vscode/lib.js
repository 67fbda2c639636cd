// Shared harness for running a real VS Code (code-server + headless Chromium) from this repo's test runners.
'use strict';
const { spawn } = require('child_process');
const dgram = require('dgram');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const VSCODE_TEST_DIR = path.resolve(process.env.VSCODE_TEST_DIR || process.env.VSC_DIR || path.join(REPO_ROOT, '.vscode-test'));
const NODE24_BIN = path.join(VSCODE_TEST_DIR, 'node24', 'bin');
const CODE_SERVER = path.join(VSCODE_TEST_DIR, 'cs', 'node_modules', '.bin', 'code-server');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Settings that stop the workbench from opening welcome pages, trust prompts and update checks,
// each of which would steal focus or add rows the tests do not expect.
const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'workbench.tips.enabled': false,
  'chat.disableAIFeatures': true,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
};

// Chromium flags from the real-vscode reference: no sandbox (we run as root), nothing that phones home.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Loads playwright-core from the project's node_modules, whatever directory the runner starts in. */
function loadPlaywright() {
  return require(require.resolve('playwright-core', { paths: [REPO_ROOT] }));
}

/** Fails early, with the fix, when the one-time VS Code setup has not been run on this machine. */
function assertVscodeInstalled() {
  const missing = [CODE_SERVER, path.join(NODE24_BIN, 'node'), CHROMIUM].filter((p) => !fs.existsSync(p));
  if (missing.length) {
    throw new Error(`real VS Code is not installed (missing ${missing.join(', ')}); run: bash scripts/setup-vscode.sh`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Process bookkeeping: everything a runner starts is killed on every way out of the runner.

const tracked = new Set();

/** Remembers a child so it is killed when the runner exits; `group` when it was spawned detached. */
function track(child, { group = false, name = 'child' } = {}) {
  const entry = { child, group, name };
  tracked.add(entry);
  child.once('exit', () => tracked.delete(entry));
  return child;
}

function signalEntry(entry, signal) {
  const { child, group } = entry;
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    // A detached child leads its own process group; signalling the group also reaches the
    // extension host, file watcher and pty host code-server forks.
    if (group) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch { /* already gone */ }
}

/** Asks a tracked child to stop, escalating to SIGKILL if it does not exit within `graceMs`. */
function stopChild(child, graceMs = 5000) {
  const entry = [...tracked].find((e) => e.child === child) || { child, group: false };
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => signalEntry(entry, 'SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    signalEntry(entry, 'SIGTERM');
  });
}

function killAllNow() {
  for (const entry of tracked) signalEntry(entry, 'SIGKILL');
}

const cleanups = [];
/** Registers async work (closing the browser, removing temp dirs) to run before the runner exits. */
function onCleanup(fn) { cleanups.push(fn); }

let cleaningUp;
/** Runs the registered cleanups (last registered first), then stops every tracked child. */
function cleanUp() {
  if (!cleaningUp) {
    cleaningUp = (async () => {
      while (cleanups.length) {
        const fn = cleanups.pop();
        try { await fn(); } catch (e) { console.error(`cleanup failed: ${e && e.message}`); }
      }
      await Promise.all([...tracked].map((e) => stopChild(e.child)));
    })();
  }
  return cleaningUp;
}

let interruptReport = () => {};
/** Sets what a runner prints after an interrupted run is cleaned up (its totals line, say). */
function onInterrupted(fn) { interruptReport = fn; }

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    const code = 128 + os.constants.signals[signal];
    console.error(`\nreceived ${signal}; stopping child processes`);
    const hardStop = setTimeout(() => process.exit(code), 15000);
    hardStop.unref();
    cleanUp().finally(() => {
      try { interruptReport(); } finally { process.exit(code); }
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Temp dirs and ports.

/**
 * Creates a fresh root for one run: VS Code user data (quiet settings plus `settings`), an empty
 * extensions dir, private XDG/TMPDIR/HOME for code-server and Chromium, and an empty workspace folder.
 */
function createRunRoot(tag, settings = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `p2p-vscode-${tag}-`));
  const dirs = {
    root,
    user: path.join(root, 'user-data'),
    exts: path.join(root, 'extensions'),
    config: path.join(root, 'xdg', 'config'),
    data: path.join(root, 'xdg', 'data'),
    cache: path.join(root, 'xdg', 'cache'),
    tmp: path.join(root, 'tmp'),
    home: path.join(root, 'home'),
    workspace: path.join(root, 'workspace'),
    logs: path.join(root, 'logs'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  fs.mkdirSync(path.join(dirs.user, 'User'), { recursive: true });
  writeUserSettings(dirs, settings);
  return dirs;
}

function writeUserSettings(dirs, settings) {
  fs.writeFileSync(path.join(dirs.user, 'User', 'settings.json'),
    JSON.stringify({ ...QUIET_SETTINGS, ...settings }, null, 2));
}

/** Removes a run root unless the run failed or KEEP_RUN_DIR is set, in which case it says where it is. */
function disposeRunRoot(dirs, failed) {
  if (failed || process.env.KEEP_RUN_DIR) {
    console.error(`run files (logs, settings, workspace) kept in ${dirs.root}`);
    return;
  }
  fs.rmSync(dirs.root, { recursive: true, force: true, maxRetries: 3 });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A UDP port on 127.0.0.1 that was free a moment ago. */
function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// code-server.

/** Environment for code-server: Node 24 first on PATH, and private config/data/tmp dirs. */
function codeServerEnv(dirs, extra = {}) {
  return {
    ...process.env,
    PATH: `${NODE24_BIN}${path.delimiter}${process.env.PATH}`,
    XDG_CONFIG_HOME: dirs.config,
    XDG_DATA_HOME: dirs.data,
    XDG_CACHE_HOME: dirs.cache,
    TMPDIR: dirs.tmp,
    // The machine's npm config points nodedir at Node 20 headers; never let it leak into Node 24.
    npm_config_nodedir: path.join(NODE24_BIN, '..'),
    ...extra,
  };
}

/** Runs a one-shot code-server command (e.g. --install-extension) and resolves with its output. */
function runCodeServerCommand(dirs, args, { timeoutMs = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(CODE_SERVER, ['--user-data-dir', dirs.user, '--extensions-dir', dirs.exts, ...args], {
      env: codeServerEnv(dirs), stdio: ['ignore', 'pipe', 'pipe'],
    }), { name: 'code-server (command)' });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`code-server ${args.join(' ')} exited with ${code ?? signal}\n${out}`));
    });
  });
}

function healthy(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

/**
 * Starts code-server on a free port and resolves once /healthz answers 200. The port can be taken
 * between choosing it and binding it, so a server that dies while starting is retried on a new port.
 */
async function startCodeServer(dirs, { extraArgs = [], extraEnv = {}, timeoutMs = 90000, attempts = 3 } = {}) {
  let lastError;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = await freeTcpPort();
    const logFile = path.join(dirs.logs, `code-server-${attempt}.log`);
    const log = fs.createWriteStream(logFile);
    const child = track(spawn(CODE_SERVER, [
      '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
      '--user-data-dir', dirs.user, '--extensions-dir', dirs.exts,
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
      '--disable-getting-started-override', '--disable-proxy', ...extraArgs,
    ], { env: codeServerEnv(dirs, extraEnv), stdio: ['ignore', 'pipe', 'pipe'], detached: true }),
    { group: true, name: 'code-server' });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    const deadline = Date.now() + timeoutMs;
    let delay = 100;
    let outcome;
    while (!outcome) {
      const exitCode = await Promise.race([exited, healthy(port).then((ok) => (ok ? 'healthy' : undefined))]);
      if (exitCode === 'healthy') outcome = 'healthy';
      else if (exitCode !== undefined) outcome = `exited with ${exitCode}`;
      else if (Date.now() > deadline) outcome = `not healthy after ${timeoutMs} ms`;
      else await Promise.race([exited, new Promise((r) => setTimeout(r, delay))]);
      delay = Math.min(delay * 2, 1000);
    }
    if (outcome === 'healthy') return { child, port, url: `http://127.0.0.1:${port}`, logFile };
    await stopChild(child);
    lastError = new Error(`code-server on port ${port} ${outcome}; log: ${logFile}\n${tail(logFile)}`);
  }
  throw lastError;
}

function tail(file, lines = 30) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return ''; }
}

// ---------------------------------------------------------------------------------------------------
// Chromium.

/** Launches Debian's headless Chromium with its own HOME and TMPDIR; closed by cleanUp(). */
async function launchBrowser(dirs) {
  const { chromium } = loadPlaywright();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    // The runner's own signal handlers close the browser with everything else, then print the totals.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    env: { ...process.env, HOME: dirs.home, TMPDIR: dirs.tmp, XDG_CONFIG_HOME: dirs.config, XDG_CACHE_HOME: dirs.cache },
  });
  onCleanup(() => browser.close().catch(() => {}));
  return browser;
}

/** The workbench URL that opens `folder`, optionally with a smoke-test-driver payload. */
function workbenchUrl(server, folder, payload) {
  let url = `${server.url}/?folder=${encodeURIComponent(folder)}`;
  if (payload) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return url;
}

/** A vscode-remote URI for a path on the code-server machine, as the workbench payload wants it. */
function remoteUri(server, absPath) {
  return `vscode-remote://127.0.0.1:${server.port}${absPath.split(path.sep).map(encodeURIComponent).join('/')}`;
}

/** Prints the line test-all.sh totals and returns the exit code the runner should use. */
function reportTotals(suite, passed, failed) {
  console.log(`${suite}: ${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

function elapsed(t0) {
  return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

module.exports = {
  REPO_ROOT, VSCODE_TEST_DIR, CODE_SERVER, NODE24_BIN, CHROMIUM, QUIET_SETTINGS,
  loadPlaywright, assertVscodeInstalled,
  track, stopChild, onCleanup, cleanUp, onInterrupted,
  createRunRoot, writeUserSettings, disposeRunRoot, freeTcpPort, freeUdpPort,
  codeServerEnv, runCodeServerCommand, startCodeServer, launchBrowser, workbenchUrl, remoteUri,
  reportTotals, elapsed, tail,
};
