/**
 * Prints one plain closing line, `Tests: N passed, N failed, N skipped`, after vitest's own report,
 * so CI logs and tools that read closing lines see the outcome without parsing vitest's colours.
 * A suite or module that failed outside any test (a failing beforeAll, an import error) counts as a
 * failure, so the line can never claim success for a red run.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of testModules) {
      let failedTests = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedTests++;
        else skipped++;
      }
      failed += failedTests;
      for (const suite of module.children.allSuites()) {
        const suiteFailedTests = [...suite.children.allTests()].filter((t) => t.result().state === 'failed').length;
        if (suite.state() === 'failed' && suiteFailedTests === 0) failed++;
      }
      if (module.state() === 'failed' && failedTests === 0 && [...module.children.allSuites()].every((s) => s.state() !== 'failed')) failed++;
    }
    process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
