// Runs the integration suite in desktop VS Code with @vscode/test-electron, on machines that can download VS Code.
//
// `npm run test:electron` (after `npx tsc -p . && node scripts/bundle.js`). VSCODE_VERSION picks the
// version (default: stable); VSCODE_EXECUTABLE_PATH uses an installed VS Code instead of downloading.
// The last line printed is always "electron: N passed, N failed".
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { REPO_ROOT } from './support/processes';
import type { SuiteTotals } from './index';

const SUITE = 'electron';

/** A UDP port nothing listens on right now. */
function deadUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

async function main(): Promise<number> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'p2p-electron-'));
  const userData = path.join(root, 'user-data');
  const workspace = path.join(root, 'workspace');
  const downloads = path.join(root, 'downloads');
  const resultsFile = path.join(root, 'results.json');
  for (const d of [path.join(userData, 'User'), path.join(root, 'extensions'), workspace, downloads]) fs.mkdirSync(d, { recursive: true });
  // Same start as the code-server runner: a quiet workbench, and an index address nobody answers on
  // until the suite points the extension at its own index server.
  fs.writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'p2p.indexServer': `127.0.0.1:${await deadUdpPort()}`,
        'p2p.peerName': 'vscode-it',
        'p2p.listenPort': 0,
        'p2p.downloadFolder': downloads,
      },
      null,
      2,
    ),
  );
  fs.writeFileSync(path.join(workspace, 'notes.txt'), 'P2P Share integration workspace\n');

  let failed = false;
  try {
    await runTests({
      version: process.env.VSCODE_VERSION,
      vscodeExecutablePath: process.env.VSCODE_EXECUTABLE_PATH,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: path.join(REPO_ROOT, 'out', 'test', 'integration', 'index.js'),
      extensionTestsEnv: { P2P_TEST_RESULTS_FILE: resultsFile },
      launchArgs: [
        workspace,
        '--user-data-dir',
        userData,
        '--extensions-dir',
        path.join(root, 'extensions'),
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
      ],
    });
  } catch (err) {
    failed = true;
    console.error(`VS Code test run failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  let totals: SuiteTotals = { passed: 0, failed: 0, pending: 0 };
  try {
    totals = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as SuiteTotals;
  } catch {
    // The suite never got to report: VS Code did not start, or the download failed.
  }
  const failedCount = failed && totals.failed === 0 ? 1 : totals.failed;
  if (failed || process.env.KEEP_RUN_DIR) console.error(`run files kept in ${root}`);
  else fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  console.log(`${SUITE}: ${totals.passed} passed, ${failedCount} failed`);
  return failedCount === 0 && totals.passed > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    console.log(`${SUITE}: 0 passed, 1 failed`);
    process.exit(1);
  },
);
