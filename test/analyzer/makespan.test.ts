/** LPT makespan: the bounds that make it a sound wall-time estimate for shard tasks on W workers. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makespan } from '../../analyzer/makespan.ts';

describe('makespan', () => {
  it('is at least the longest job and the average load, and within Graham’s 4/3 bound of the optimum’s lower bound', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { maxLength: 200 }), fc.integer({ min: 1, max: 16 }), (jobs, workers) => {
        const { wallMs, loads } = makespan(jobs, workers);
        const sum = jobs.reduce((a, b) => a + b, 0);
        const max = jobs.reduce((a, b) => Math.max(a, b), 0);
        const lower = Math.max(max, sum / workers);
        expect(loads).toHaveLength(workers);
        expect(loads.reduce((a, b) => a + b, 0)).toBeCloseTo(sum, 3);
        expect(wallMs).toBeGreaterThanOrEqual(lower - 1e-6);
        expect(wallMs).toBeLessThanOrEqual((4 / 3) * lower + 1e-6 + max / 3);
      }),
    );
  });

  it('a hot key bounds the wall time however many workers there are', () => {
    const jobs = [1000, ...Array.from({ length: 100 }, () => 1)];
    expect(makespan(jobs, 64).wallMs).toBe(1000);
    expect(makespan(jobs, 1).wallMs).toBe(1100);
  });
});
