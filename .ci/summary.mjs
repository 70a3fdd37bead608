// Prints the plain closing line CI reads: "N passed, N failed[, N skipped]" from vitest's JSON report.
// Failed = failed tests + test files that failed without a failed test (import error, failing hook);
// vitest's numFailedTestSuites also counts every describe block around a failed test, so it is not used.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-output/results.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const brokenFiles = (report.testResults ?? []).filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
).length;
let failed = (report.numFailedTests ?? 0) + brokenFiles;
// Errors outside any test (unhandled rejections) fail the run without failing a test: count one.
if (report.success === false && failed === 0) failed = 1;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
