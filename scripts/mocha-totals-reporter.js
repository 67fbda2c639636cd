// Mocha reporter: the spec output, then one "<suite>: N passed, N failed" line for scripts/test-all.sh to total.
const Mocha = require('mocha');
const { EVENT_RUN_END } = Mocha.Runner.constants;

class TotalsReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const suite = (options.reporterOption && options.reporterOption.suite) || process.env.P2P_SUITE || 'unit';
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats;
      console.log(`${suite}: ${s.passes} passed, ${s.failures} failed`);
    });
  }
}
module.exports = TotalsReporter;
