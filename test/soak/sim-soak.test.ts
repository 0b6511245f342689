/**
 * The simulator's full campaign (npm run soak): seeds 1..200 of the bank under default and swarm
 * faults; the game, the ML feature pipeline and the shop (a join) for seeds 1..100 under default
 * faults (the examples' criterion) and the game and the shop under swarm faults too.
 */
import { describe, expect, it } from 'vitest';
import type { AppDef } from 'spive';
import { simulate } from 'spive/sim';
import bank from '../../examples/bank/app.ts';

const SEEDS = Number(process.env.SPIVE_SIM_SEEDS ?? 200);

describe('simulator soak', () => {
  for (const faults of ['default', 'swarm'] as const) {
    it(`bank: no violation in seeds 1..${SEEDS} with --faults ${faults}`, async () => {
      const failures: string[] = [];
      const hashes = new Set<string>();
      for (let seed = 1; seed <= SEEDS; seed++) {
        const r = await simulate(bank, { seed, faults, appSpec: 'examples/bank' });
        if (r.violations.length > 0) failures.push(`${r.repro}: ${r.violations[0]?.invariant}: ${r.violations[0]?.message}`);
        hashes.add(r.traceHash);
      }
      expect(failures).toEqual([]);
      expect(hashes.size).toBe(SEEDS);
    }, 1_800_000);
  }
});

describe('simulator soak on the embedded store', () => {
  it('bank: no violation in seeds 1..50 with --faults swarm --store embedded', async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= Math.min(SEEDS, 50); seed++) {
      const r = await simulate(bank, { seed, faults: 'swarm', store: 'embedded', appSpec: 'examples/bank' });
      if (r.violations.length > 0) failures.push(`${r.repro}: ${r.violations[0]?.invariant}: ${r.violations[0]?.message}`);
    }
    expect(failures).toEqual([]);
  }, 1_800_000);
});

describe('simulator soak: the game and the shop under swarm faults', () => {
  for (const example of ['game', 'shop']) {
    it(`${example}: no violation in seeds 1..100 with --faults swarm`, async () => {
      const { default: app } = (await import(`../../examples/${example}/app.ts`)) as { default: AppDef };
      const failures: string[] = [];
      for (let seed = 1; seed <= Math.min(SEEDS, 100); seed++) {
        const r = await simulate(app, { seed, faults: 'swarm', appSpec: `examples/${example}` });
        if (r.violations.length > 0) failures.push(`${r.repro}: ${r.violations[0]?.invariant}: ${r.violations[0]?.message}`);
      }
      expect(failures).toEqual([]);
    }, 1_800_000);
  }
});

describe('simulator soak: the other examples under default faults', () => {
  for (const example of ['game', 'ml-features', 'shop']) {
    it(`${example}: no violation in seeds 1..100 with --faults default, and every seed's hash is its own`, async () => {
      const { default: app } = (await import(`../../examples/${example}/app.ts`)) as { default: AppDef };
      const seeds = Math.min(SEEDS, 100);
      const failures: string[] = [];
      const hashes = new Set<string>();
      for (let seed = 1; seed <= seeds; seed++) {
        const r = await simulate(app, { seed, faults: 'default', appSpec: `examples/${example}` });
        if (r.violations.length > 0) failures.push(`${r.repro}: ${r.violations[0]?.invariant}: ${r.violations[0]?.message}`);
        hashes.add(r.traceHash);
      }
      expect(failures).toEqual([]);
      expect(hashes.size).toBe(seeds);
    }, 1_800_000);
  }
});
