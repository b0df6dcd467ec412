const { relative } = require('node:path');

/** How many of the slowest test files the summary names: the candidates for making faster. */
const SLOWEST = 8;

/**
 * Ends a run with one plain line, `tests: N passed, N failed`, that CI logs can be read by, after
 * the slowest test files and their times.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const slowest = results.testResults
      .map((file) => ({ path: relative(process.cwd(), file.testFilePath), ms: file.perfStats.end - file.perfStats.start }))
      .filter((file) => file.ms > 0)
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SLOWEST);
    const wall = ((Date.now() - results.startTime) / 1000).toFixed(1);
    const times = slowest.map((file) => `  ${(file.ms / 1000).toFixed(1).padStart(6)} s  ${file.path}`).join('\n');
    process.stdout.write(
      `\nslowest test files (of ${results.numTotalTestSuites}, ${wall} s in all):\n${times}\n` +
        `\ntests: ${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
    );
  }
}

module.exports = SummaryReporter;
