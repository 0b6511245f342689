/**
 * Fuzzing at full strength (npm run soak): the correct examples pass 1,000 runs; every planted bug is
 * found within the default 60 s budget, and its printed reproduction exits 1 when run.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fuzz } from 'spive/sim';
import { realClock } from 'spive';
import { loadApp } from '../../src/app/load-app.ts';

const RUNS = Number(process.env.SPIVE_FUZZ_RUNS ?? 1000);

/** A case's size, as the note reports it: input events, keys, and fault kinds switched on. */
function size(c: { faults: Record<string, unknown>; workload: { events?: number; keys?: number } } | null, defaults: { events?: number; keys?: number }): string {
  if (c === null) return '-';
  const faults = Object.entries(c.faults).filter(([k, v]) => k !== 'base' && k !== 'startFraction' && v !== null && v !== 0).length;
  return `${c.workload.events ?? defaults.events ?? 1000} events, ${c.workload.keys ?? defaults.keys ?? 100} keys, ${faults} faults`;
}

describe('fuzz soak', () => {
  for (const example of ['bank', 'game', 'ml-features', 'shop']) {
    it(`${example}: ${RUNS} runs without a counterexample`, async () => {
      const { app } = await loadApp(`examples/${example}`);
      const r = await fuzz(app, { seed: 1, runs: RUNS, timeBudgetMs: Number.POSITIVE_INFINITY, appSpec: `examples/${example}` });
      expect(r.failed, r.repro ?? '').toBe(false);
      expect(r.runs).toBe(RUNS);
    }, 3_600_000);
  }

  for (const bug of ['unfenced-writer', 'lost-update', 'catch-up-effects', 'arrival-order', 'duplicate-append', 'snapshot-gap']) {
    it(`finds examples/buggy/${bug} within 60 s, and its reproduction exits 1`, async () => {
      const spec = `examples/buggy/${bug}`;
      const { app } = await loadApp(spec);
      const r = await fuzz(app, { seed: 1, runs: 100_000, timeBudgetMs: 60_000, appSpec: spec, wallClock: realClock });
      expect(r.failed).toBe(true);
      expect(r.foundAfterMs ?? Infinity).toBeLessThan(60_000);
      process.stdout.write(`fuzz ${bug}: found after ${r.runs} runs in ${Math.round(r.foundAfterMs ?? 0)} ms; case ${size(r.original as never, app.workload ?? {})} -> ${size(r.counterexample as never, app.workload ?? {})} after ${r.shrinks} shrinks\n  ${r.repro}\n`);
      const args = (r.repro as string).replace(/^npx spive /, '').match(/'[^']*'|\S+/g)?.map((a) => a.replace(/^'(.*)'$/, '$1')) ?? [];
      const run = spawnSync(process.execPath, ['bin/spive.js', ...args], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(1);
      expect(run.stdout).toContain('VIOLATION');
    }, 300_000);
  }
});
