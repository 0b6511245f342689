/**
 * Do the planner's estimates hold against reality? A matrix of generated bank stores (sizes, skews,
 * bug windows, snapshot cadences); in each, the ledger gets a planted fix (a transfer limit from
 * time B on, test/replay/fixtures/bank-variant.ts) and every applicable strategy is planned and
 * actually replayed — through the very commands users run (`spive dataset generate`, `replay-plan`,
 * `replay --strategy`), in process, each on a fresh copy of the store.
 *
 * Each strategy runs twice per store, each time on a fresh copy, and the faster run counts; one
 * untimed replay first warms the process up (module loading, JIT).
 *
 * - replay.matrix.<config>.chosen (ms): the actual wall time of the strategy the planner chose.
 *   Baseline: the actual wall time of the fastest strategy in that store. Target: ratio ≤ 1.10.
 * - replay.matrix.estimate-error.median (fraction): the median of |estimated − actual| / actual over
 *   every (store, strategy), with costs calibrated on a sample (what a first plan uses). Baseline:
 *   the same median when the plans are made again after one real replay in that store recorded its
 *   costs (calibration from real runs: the faster of the chosen strategy's two runs recorded what it
 *   measured). Target: ≤ 0.25; a ratio > 1 means real runs narrowed it.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fakeStreams } from '../helpers/fake-streams.ts';
import { info, makeTemp, median, type BenchResult } from './util.ts';

interface MatrixConfig {
  readonly name: string;
  readonly events: number;
  readonly keys: number;
  readonly skew: number;
  /** Where B falls in the history (fraction of its time span). */
  readonly since: number;
  readonly snapshotEvery: number;
}

const STRATEGIES = ['shards-from-scratch', 'time-ray-from-snapshot', 'per-shard-mix', 'full-rebuild'] as const;
/** Actual runs per strategy and store (the fastest counts: the machine's other load only slows a run down). */
const RUNS_PER_STRATEGY = 2;

async function spive(...args: string[]): Promise<Record<string, unknown>> {
  const { main } = await import('../../cli/main.ts');
  const { streams, output } = fakeStreams();
  const code = await main(['node', 'spive', ...args, '--json'], streams);
  if (code !== 0) throw new Error(`spive ${args.join(' ')} exited ${code}: ${output.stderr}`);
  return JSON.parse(output.stdout) as Record<string, unknown>;
}

export async function replayMatrix(scale: number, results: (r: BenchResult) => void): Promise<void> {
  const configs: MatrixConfig[] = [
    { name: 'uniform.late-bug.fresh-snapshots', events: 20_000 * scale, keys: 200, skew: 0, since: 0.9, snapshotEvery: 1000 },
    { name: 'skewed.mid-bug', events: 20_000 * scale, keys: 500, skew: 0.99, since: 0.5, snapshotEvery: 2000 },
    { name: 'skewed.late-bug.rare-snapshots', events: 30_000 * scale, keys: 1000, skew: 1.2, since: 0.95, snapshotEvery: 10_000 },
  ];
  const dir = makeTemp('replay-matrix');
  const sampleErrors: number[] = [];
  const calibratedErrors: number[] = [];
  for (const c of configs) {
    const base = join(dir, c.name, 'base');
    mkdirSync(join(dir, c.name), { recursive: true });
    const generated = await spive('dataset', 'generate', 'bank', '--out', base, '--events', String(Math.round(c.events)), '--keys', String(c.keys), '--skew', String(c.skew), '--snapshot-every', String(c.snapshotEvery), '--days', '10');
    const minTime = generated.minTime as number;
    const maxTime = generated.maxTime as number;
    const since = Math.round(minTime + c.since * (maxTime - minTime));
    // The fixed app: the bank with a transfer limit from B on (an explicit version: a real change).
    const app = join(dir, c.name, 'fixed.ts');
    writeFileSync(app, `import { bankVariant } from ${JSON.stringify(resolve('test/replay/fixtures/bank-variant.ts'))};\nexport default bankVariant({ ledgerVersion: 'fixed-${c.name}', limitSince: ${since} }).app;\n`);

    const first = join(dir, c.name, 'plan');
    cpSync(base, first, { recursive: true });
    const plan = await spive('replay-plan', '--store', first, '--app', app, '--process', 'ledger', '--since', String(since), '--out', join(first, 'plan.json'));
    const estimated = new Map((plan.strategies as Array<{ name: string; applicable: boolean; estimatedWallMs: number }>).map((s) => [s.name, s]));
    const actual = new Map<string, number>();
    let calibratedCatalogue: string | undefined;
    if (c === configs[0]) {
      // Untimed: the first replay in the process pays for loading modules and warming the JIT.
      const warm = join(dir, c.name, 'warm-up');
      cpSync(first, warm, { recursive: true });
      await spive('replay', '--plan', join(warm, 'plan.json'), '--store', warm);
    }
    for (const strategy of STRATEGIES) {
      if (estimated.get(strategy)?.applicable !== true) continue;
      // Each strategy twice, each on a fresh copy (with the catalogue: planning again reads no file twice); the faster run counts.
      const runs: number[] = [];
      for (let rep = 0; rep < RUNS_PER_STRATEGY; rep++) {
        const copy = join(dir, c.name, `${strategy}-${rep}`);
        cpSync(first, copy, { recursive: true });
        const run = await spive('replay', '--plan', join(copy, 'plan.json'), '--store', copy, '--strategy', strategy);
        // The chosen strategy's run that counts (the faster) is the one whose measurements calibrate the next plan.
        if (strategy === plan.chosen && (run.actualWallMs as number) < Math.min(...runs)) calibratedCatalogue = copy;
        runs.push(run.actualWallMs as number);
      }
      actual.set(strategy, Math.min(...runs));
      info(`replay-matrix: ${c.name} ${strategy}: estimated ${Math.round(estimated.get(strategy)?.estimatedWallMs ?? 0)} ms, actual ${runs.map((ms) => Math.round(ms)).join(' / ')} ms`);
    }
    // Plan again after one real replay (of the chosen strategy) recorded its costs.
    const again = join(dir, c.name, 'again');
    cpSync(first, again, { recursive: true });
    if (calibratedCatalogue !== undefined) cpSync(join(calibratedCatalogue, 'analyzer'), join(again, 'analyzer'), { recursive: true });
    const replanned = await spive('replay-plan', '--store', again, '--app', app, '--process', 'ledger', '--since', String(since));
    const recalibrated = new Map((replanned.strategies as Array<{ name: string; estimatedWallMs: number }>).map((s) => [s.name, s.estimatedWallMs]));
    for (const [strategy, ms] of actual) {
      sampleErrors.push(Math.abs((estimated.get(strategy)?.estimatedWallMs ?? 0) - ms) / ms);
      calibratedErrors.push(Math.abs((recalibrated.get(strategy) ?? 0) - ms) / ms);
      info(`replay-matrix: ${c.name} ${strategy}: actual ${Math.round(ms)} ms; estimated ${Math.round(estimated.get(strategy)?.estimatedWallMs ?? 0)} ms from a sample, ${Math.round(recalibrated.get(strategy) ?? 0)} ms after a real run`);
    }
    const fastest = Math.min(...actual.values());
    const chosen = actual.get(plan.chosen as string) ?? Number.NaN;
    info(`replay-matrix: ${c.name}: chose ${plan.chosen as string}; cost source after a real run: ${(replanned.cost as { source: string }).source}`);
    results({ bench: `replay.matrix.${c.name}.chosen`, value: chosen, unit: 'ms', baseline: fastest });
  }
  results({ bench: 'replay.matrix.estimate-error.median', value: median(sampleErrors), unit: 'fraction', baseline: median(calibratedErrors) });
}
