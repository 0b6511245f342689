/** An example's simulation over seeds 1..n, for the examples' tests. */
import { expect } from 'vitest';
import type { AppDef } from 'spive';
import { simulate, type SimulateOptions, type SimulationResult } from 'spive/sim';

/**
 * Simulates `app` for seeds 1..`seeds`: each run must be free of violations (a failure shows its
 * reproduction command); `each` sees every result (traces are not all held at once). Returns the
 * trace hashes seen.
 */
export async function simulateSeeds(app: AppDef, seeds: number, options: Omit<SimulateOptions, 'seed'>, each?: (r: SimulationResult) => void): Promise<Set<string>> {
  const hashes = new Set<string>();
  for (let seed = 1; seed <= seeds; seed++) {
    const r = await simulate(app, { ...options, seed });
    expect(r.violations, r.repro).toEqual([]);
    hashes.add(r.traceHash);
    each?.(r);
  }
  return hashes;
}
