/**
 * `spive fuzz <app>`: searches simulation cases (seed, fault plan, workload shape) for a violation and
 * shrinks the first one found to a minimal case, printed as one `spive simulate` command.
 * Exit 0: no counterexample; 1: a counterexample (the repro command reproduces it); 2: bad usage.
 * `--junit <file>` writes a JUnit XML report (one test suite, one test case for the whole fuzz).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadApp } from '../../src/app/load-app.ts';
import { realClock } from '../../src/time/clock.ts';
import { DEFAULT_FUZZ_RUNS, DEFAULT_FUZZ_TIME_BUDGET_MS, fuzz, type FuzzResult } from '../../sim/fuzz.ts';
import { EXIT_FOUND_PROBLEM, UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { duration, integer, positiveInt } from '../options.ts';
import { makeOutput, type Output } from '../output.ts';

interface FuzzCliOptions {
  runs: number;
  seed: number;
  timeBudget: number;
  junit?: string;
  store: string;
  json?: boolean;
}

export function registerFuzz(program: Command, context: CommandContext): void {
  program
    .command('fuzz')
    .description('search seeds, fault plans and workload shapes for a violation; shrink it to one `spive simulate` command; exit 1 if found')
    .argument('<app>', 'the app: a module, or a folder holding app.ts')
    .option('--runs <n>', 'cases to try; given alone, it wins over the default time budget (the budget applies only when given too)', positiveInt('--runs'), DEFAULT_FUZZ_RUNS)
    .option('--seed <n>', 'seed of the search: the same seed and --runs give the same cases and the same result', integer('--seed'), 1)
    .option('--time-budget <duration>', 'wall time for the search, like 60s or 10m; a counterexample found is then shrunk for up to as long again', duration('--time-budget'), DEFAULT_FUZZ_TIME_BUDGET_MS)
    .option('--junit <file>', 'also write a JUnit XML report (for CI test dashboards)')
    .option('--store <kind>', 'memory, or embedded: the embedded store on a simulated disk (store crashes are searched too)', 'memory')
    .option('--json', 'print one JSON object on stdout')
    .action(async (appSpec: string, options: FuzzCliOptions, command: Command) => {
      const out = makeOutput(options.json === true, context.streams);
      // An explicit --runs wins over the *default* time budget: `--runs 1000` means a thousand runs.
      if (command.getOptionValueSource('runs') === 'cli' && command.getOptionValueSource('timeBudget') !== 'cli') {
        options = { ...options, timeBudget: Number.POSITIVE_INFINITY };
      }
      if (options.store !== 'memory' && options.store !== 'embedded') throw new UsageError(`--store: expected memory or embedded, got ${JSON.stringify(options.store)}`);
      const store = options.store;
      if (options.junit !== undefined) checkWritable(options.junit);
      const { app } = await loadApp(appSpec);
      if (app.workload === undefined) throw new UsageError(`<app>: app ${app.name} declares no workload; add \`workload: { make, ... }\` to defineApp to fuzz it`);
      const budget = formatMs(options.timeBudget);
      out.progress(`fuzzing ${appSpec} (seed ${options.seed}, up to ${options.runs} runs, time budget ${budget})…`);
      const result = await fuzz(app, {
        seed: options.seed,
        runs: options.runs,
        timeBudgetMs: options.timeBudget,
        appSpec,
        store,
        wallClock: realClock,
        onProgress: (p) =>
          out.progress(
            p.phase === 'search'
              ? `fuzzing ${appSpec}: ${plural(p.runs, 'run')}, ${formatMs(p.elapsedMs)} of ${budget}`
              : `fuzzing ${appSpec}: counterexample found; shrinking (${plural(p.shrinks, 'shrink')} so far, ${formatMs(p.elapsedMs)})`,
          ),
      });
      out.result(toJson(result, appSpec, options.timeBudget));
      report(out, result, appSpec, options);
      if (options.junit !== undefined) writeFileSync(options.junit, junitReport(result, appSpec));
      if (result.failed) context.exitCode = EXIT_FOUND_PROBLEM;
    });
}

function checkWritable(file: string): void {
  const dir = dirname(resolve(file));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--junit: the folder of ${file} does not exist (expected a file path in an existing folder)`);
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`--junit: ${file} is a folder (expected a file path)`);
}

export function toJson(r: FuzzResult, app: string, timeBudgetMs: number) {
  return {
    app,
    seed: r.seed,
    runs: r.runs,
    failed: r.failed,
    counterexample: r.counterexample,
    repro: r.repro,
    shrinks: r.shrinks,
    violation: r.violation,
    original: r.original,
    simulations: r.simulations,
    coverage: r.coverage,
    interrupted: r.interrupted,
    shrinkInterrupted: r.shrinkInterrupted,
    timeBudgetMs,
    foundAfterMs: r.foundAfterMs,
    elapsedMs: r.elapsedMs,
  };
}

function report(out: Output, r: FuzzResult, app: string, options: FuzzCliOptions): void {
  out.line(`fuzzing ${app}: seed ${r.seed}, up to ${options.runs} runs, time budget ${formatMs(options.timeBudget)}`);
  if (!r.failed) {
    const why = r.interrupted ? ` (the time budget ended the search before ${options.runs} runs)` : '';
    out.line(`no counterexample in ${plural(r.runs, 'run')}, ${formatMs(r.elapsedMs)}${why}`);
  } else {
    const shrinkTime = formatMs(r.elapsedMs - (r.foundAfterMs ?? 0));
    out.line(`COUNTEREXAMPLE found at run ${r.runs} after ${formatMs(r.foundAfterMs ?? 0)}; shrunk ${plural(r.shrinks, 'time')} in ${shrinkTime} (${plural(r.simulations, 'simulation')} in all)`);
    if (r.shrinkInterrupted) out.line('  (shrinking stopped at its time limit: the case below is smaller than the one found, but may not be minimal)');
    const v = r.violation;
    const c = r.counterexample;
    out.line('');
    out.line(`VIOLATION of "${v?.invariant}" at step ${v?.step} (${((v?.simulatedMs ?? 0) / 1000).toFixed(3)} s simulated):`);
    out.line(`  ${v?.message}`);
    if (c !== null) {
      out.line('');
      out.line('minimal case:');
      out.line(`  seed     ${c.seed}`);
      out.line(`  faults   ${JSON.stringify(c.faults)}`);
      out.line(`  workload ${JSON.stringify(c.workload)}`);
    }
    out.line('');
    out.line('reproduce with:');
    out.line(`  ${r.repro}`);
  }
  out.line('');
  for (const line of coverageLines(r)) out.line(line);
  if (options.junit !== undefined) out.line(`JUnit report written to ${options.junit}`);
}

/** What the search exercised and what it never did. */
export function coverageLines(r: FuzzResult): string[] {
  const fired = Object.entries(r.coverage.faults).filter(([, n]) => n > 0);
  const reached = Object.entries(r.coverage.marks).filter(([, n]) => n > 0);
  return [
    `coverage over ${plural(r.coverage.runs, 'search run')}:`,
    `  faults fired:          ${fired.map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
    `  runtime paths reached: ${reached.map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
    `  never exercised:       ${r.coverage.never.join(', ') || 'nothing: every fault fired and every path was reached'}`,
  ];
}

/** A JUnit XML report: one test suite holding one test case for the whole fuzz, failed with the repro command. */
export function junitReport(r: FuzzResult, app: string): string {
  const seconds = (r.elapsedMs / 1000).toFixed(3);
  const failures = r.failed ? 1 : 0;
  const props: Array<[string, string | number]> = [
    ['seed', r.seed],
    ['runs', r.runs],
    ['simulations', r.simulations],
    ['shrinks', r.shrinks],
    ['interrupted', String(r.interrupted)],
  ];
  if (r.repro !== null) props.push(['repro', r.repro]);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="spive fuzz" tests="1" failures="${failures}" errors="0" time="${seconds}">`,
    `  <testsuite name="spive fuzz ${attr(app)}" tests="1" failures="${failures}" errors="0" skipped="0" time="${seconds}">`,
    '    <properties>',
    ...props.map(([k, v]) => `      <property name="${attr(k)}" value="${attr(String(v))}"/>`),
    '    </properties>',
    `    <testcase classname="spive.fuzz" name="${attr(`fuzz ${app}`)}" time="${seconds}">`,
  ];
  if (r.failed) {
    const v = r.violation;
    const body = [
      `${v?.invariant}: ${v?.message}`,
      `found at run ${r.runs}, shrunk ${plural(r.shrinks, 'time')}; minimal case: ${JSON.stringify(r.counterexample)}`,
      'reproduce with:',
      `  ${r.repro}`,
    ].join('\n');
    lines.push(`      <failure message="${attr(`violation of "${v?.invariant}"; reproduce with: ${r.repro}`)}" type="${attr(v?.invariant ?? 'violation')}">${text(body)}</failure>`);
  }
  lines.push(`      <system-out>${text(coverageLines(r).join('\n'))}</system-out>`, '    </testcase>', '  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

/** Characters XML 1.0 cannot hold at all. */
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function text(s: string): string {
  return s.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attr(s: string): string {
  return text(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'none';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
