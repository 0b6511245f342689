/** The snapshot cadence anchor reproduces Daly's published optima and Young's first-order form. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dalyInterval, youngInterval } from '../../analyzer/snapshot-advice.ts';

describe('optimal snapshot interval', () => {
  // Daly (2006), §5: solve time 500 h, restart 10 min, dump δ = 5 min. Restart time and solve time
  // do not enter the optimum itself. Published optima: M = 24 h → ~117 min, 6 h → ~57 min, 15 min → ~9.1 min.
  it.each([
    [24 * 60, 117, 0.5],
    [6 * 60, 57, 0.5],
    [15, 9.1, 0.05],
  ])('Daly: δ = 5 min, M = %d min → about %d min', (meanMin, expectedMin, tolerance) => {
    const tau = dalyInterval(5 * 60_000, meanMin * 60_000) / 60_000;
    expect(Math.abs(tau - expectedMin)).toBeLessThanOrEqual(tolerance);
  });

  it("Young's τ = √(2δM); Daly's is close to it when δ ≪ M and equals M when δ ≥ 2M", () => {
    expect(youngInterval(5, 1440)).toBeCloseTo(120, 9);
    fc.assert(
      fc.property(fc.double({ min: 1e-3, max: 1e3, noNaN: true }), fc.double({ min: 1, max: 1e7, noNaN: true }), (delta, mean) => {
        const daly = dalyInterval(delta, mean);
        if (delta >= 2 * mean) return daly === mean;
        const young = youngInterval(delta, mean);
        // Daly = Young·(1 + O(√(δ/M))) − δ: the relative gap shrinks with δ/M.
        const x = delta / (2 * mean);
        return Math.abs(daly - young) <= young * (Math.sqrt(x) / 3 + x / 9) + delta + 1e-9 && daly > 0;
      }),
    );
  });

  it('rejects a non-positive cost or mean', () => {
    expect(() => dalyInterval(0, 10)).toThrow(/δ/);
    expect(() => youngInterval(1, -1)).toThrow(/M/);
  });
});
