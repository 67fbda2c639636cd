// Entry point VS Code calls (extensionTestsPath) inside the extension host: runs the integration suite with mocha.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import { world } from './support/world';

/** Runs last: it shuts the extension's peer down for good. */
const LAST_FILE = 'deactivate.test.js';

export interface SuiteTotals {
  passed: number;
  failed: number;
  pending: number;
}

/**
 * Both runners read the totals: code-server's through the console (the harness sees it via
 * codeAutomationLog) and, when P2P_TEST_RESULTS_FILE is set, through that file.
 */
function reportTotals(totals: SuiteTotals): void {
  console.log(`P2P_TEST_TOTALS ${JSON.stringify(totals)}`);
  const file = process.env.P2P_TEST_RESULTS_FILE;
  if (file) fs.writeFileSync(file, JSON.stringify(totals));
}

export async function run(): Promise<void> {
  console.log('P2P_TEST_BEGIN integration suite');
  const mocha = new Mocha({ ui: 'tdd', color: false, reporter: 'spec', timeout: 90000, slow: 10000 });
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .sort((a, b) => Number(a === LAST_FILE) - Number(b === LAST_FILE) || a.localeCompare(b));
  // P2P_TEST_ONLY=persistence,peer-name runs only those files: one scenario while iterating, not the suite.
  const only = process.env.P2P_TEST_ONLY || undefined;
  const onlyFiles = only?.split(',').map((n) => `${n.trim().replace(/\.test\.[jt]s$/u, '')}.test.js`);
  for (const f of files) if (!onlyFiles || onlyFiles.includes(f)) mocha.addFile(path.join(__dirname, f));

  let totals: SuiteTotals = { passed: 0, failed: 0, pending: 0 };
  try {
    totals = await new Promise<SuiteTotals>((resolve) => {
      const runner = mocha.run(() =>
        resolve({ passed: runner.stats?.passes ?? 0, failed: runner.stats?.failures ?? 0, pending: runner.stats?.pending ?? 0 }),
      );
    });
  } catch (err) {
    // Loading a test file threw: nothing ran, and that is a failure of the suite.
    console.error(err);
    totals = { ...totals, failed: totals.failed + 1 };
  } finally {
    await world.dispose().catch((err: unknown) => console.error('teardown failed:', err));
  }
  reportTotals(totals);
  if (totals.failed > 0 || totals.passed === 0) throw new Error(`${totals.failed} of ${totals.passed + totals.failed} tests failed`);
}
