/**
 * `spive/test`: fuzzing for users' own test suites (vitest, jest, node:test — anything that fails a
 * test on a thrown error).
 *
 *   import { fuzzApp } from 'spive/test';
 *
 *   it('survives fuzzing', async () => {
 *     await fuzzApp('src/app.ts', { runs: 50, timeBudgetMs: 20_000 });
 *   }, 60_000);   // a test timeout of at least twice the time budget (shrinking may take as long again)
 *
 * On a counterexample `fuzzApp` throws a `FuzzFailure` whose message names the violated invariant and
 * ends with the `npx spive simulate ...` command that reproduces the minimal case.
 */
import type { AppDef } from '../src/app/define.ts';
import { loadApp } from '../src/app/load-app.ts';
import { fuzz, type FuzzOptions, type FuzzResult } from './fuzz.ts';

export { fuzz, caseArbitrary, DEFAULT_FUZZ_RUNS, DEFAULT_FUZZ_TIME_BUDGET_MS, type FuzzCase, type FuzzCoverage, type FuzzFaults, type FuzzOptions, type FuzzProgress, type FuzzResult } from './fuzz.ts';

/** Defaults of `fuzzApp`, smaller than the CLI's: a unit test suite runs often. */
export const FUZZ_APP_DEFAULTS = { runs: 100, timeBudgetMs: 20_000 } as const;

/** Thrown by `fuzzApp` when the search finds a counterexample; `result` holds the whole finding. */
export class FuzzFailure extends Error {
  override name = 'FuzzFailure';
  constructor(readonly result: FuzzResult) {
    super(failureMessage(result));
  }
}

/**
 * Fuzzes an app (an app object, or the path of its module as `spive fuzz` takes it) and resolves with
 * the result when no counterexample is found; throws a `FuzzFailure` carrying the reproduction command
 * otherwise. Given an app object, pass `appSpec` (its path) so that the command names it.
 */
export async function fuzzApp(app: AppDef | string, options: FuzzOptions = {}): Promise<FuzzResult> {
  const def = typeof app === 'string' ? (await loadApp(app)).app : app;
  const appSpec = options.appSpec ?? (typeof app === 'string' ? app : undefined);
  const result = await fuzz(def, { ...FUZZ_APP_DEFAULTS, ...options, ...(appSpec === undefined ? {} : { appSpec }) });
  if (result.failed) throw new FuzzFailure(result);
  return result;
}

function failureMessage(r: FuzzResult): string {
  const v = r.violation;
  const lines = [
    `spive fuzz found a counterexample at run ${r.runs} (shrunk ${r.shrinks} times${r.shrinkInterrupted ? ', stopped at the shrink time limit' : ''}):`,
    `  violation of "${v?.invariant}" at step ${v?.step}: ${v?.message}`,
    `  minimal case: ${JSON.stringify(r.counterexample)}`,
    'reproduce with:',
    `  ${r.repro}`,
  ];
  if (r.repro?.includes(' <app> ') === true) lines.push('(pass { appSpec: "<path of the app>" } to fuzzApp to have the command name the app)');
  return lines.join('\n');
}
