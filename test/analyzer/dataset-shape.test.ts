/** The shape of generated logs: Zipf key popularity, the daily rate cycle, heavy-tailed sizes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from 'spive';
import { dailyCycleTimes, DAY_MS, logNormalLength, ZipfSampler } from '../../analyzer/dataset/shape.ts';

describe('ZipfSampler', () => {
  it('has probabilities ∝ 1/(k+1)^skew that sum to 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.double({ min: 0, max: 2, noNaN: true }), (n, skew) => {
        const z = new ZipfSampler(n, skew);
        let sum = 0;
        for (let k = 0; k < n; k++) sum += z.probability(k);
        expect(sum).toBeCloseTo(1, 9);
        // The law itself: p(k)/p(0) = (k+1)^-skew.
        for (let k = 1; k < n; k++) expect(z.probability(k) / z.probability(0)).toBeCloseTo((k + 1) ** -skew, 9);
      }),
    );
  });

  it('draws ranks with those frequencies', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 1.5, noNaN: true }), fc.integer(), (n, skew, seed) => {
        const z = new ZipfSampler(n, skew);
        const random = seededRandom(seed);
        const draws = 20_000;
        const counts = new Array<number>(n).fill(0);
        for (let i = 0; i < draws; i++) {
          const k = z.sample(random);
          counts[k] = (counts[k] as number) + 1;
        }
        for (let k = 0; k < n; k++) {
          const p = z.probability(k);
          const sd = Math.sqrt((p * (1 - p)) / draws);
          expect(Math.abs((counts[k] as number) / draws - p), `rank ${k} of ${n}, skew ${skew}`).toBeLessThan(5 * sd + 1e-3);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('rejects a bad size or skew', () => {
    expect(() => new ZipfSampler(0, 1)).toThrow(/positive integer/);
    expect(() => new ZipfSampler(5, -1)).toThrow(/>= 0/);
  });
});

describe('dailyCycleTimes', () => {
  it('gives sorted integer times inside the span, for any count and amplitude', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.double({ min: 0, max: 0.95, noNaN: true }), fc.integer({ min: 1, max: 10 }), fc.integer(), (count, amplitude, days, seed) => {
        const start = Date.UTC(2024, 0, 1);
        const times = dailyCycleTimes(count, { startMs: start, spanMs: days * DAY_MS, amplitude, peakHour: 15 }, seededRandom(seed));
        expect(times.length).toBe(count);
        const bad = [...times].findIndex((t, i) => !Number.isInteger(t) || t < start || t >= start + days * DAY_MS || (i > 0 && t < (times[i - 1] as number)));
        expect(bad, `time #${bad}`).toBe(-1);
      }),
      { numRuns: 50 },
    );
  });

  it('puts the busy hours around the peak: rate ratio peak/trough ≈ (1+a)/(1−a)', () => {
    const times = dailyCycleTimes(200_000, { startMs: Date.UTC(2024, 0, 1), spanMs: 20 * DAY_MS, amplitude: 0.6, peakHour: 15 }, seededRandom(3));
    const perHour = new Array<number>(24).fill(0);
    for (const t of times) {
      const h = new Date(t).getUTCHours();
      perHour[h] = (perHour[h] as number) + 1;
    }
    const busiest = perHour.indexOf(Math.max(...perHour));
    expect(Math.abs(busiest - 15)).toBeLessThanOrEqual(1);
    // Hour 15 vs hour 3 (the trough): (1 + 0.6)/(1 − 0.6) = 4, a little less averaged over an hour.
    const ratio = (perHour[15] as number) / (perHour[3] as number);
    expect(ratio).toBeGreaterThan(3.3);
    expect(ratio).toBeLessThan(4.3);
  });
});

describe('logNormalLength', () => {
  it('stays in bounds, has the given median, and a heavy tail', () => {
    const random = seededRandom(9);
    const xs = Array.from({ length: 50_000 }, () => logNormalLength(random, 16, 1.3, 0, 8192)).sort((a, b) => a - b);
    expect(xs[0]).toBeGreaterThanOrEqual(0);
    expect(xs[xs.length - 1]).toBeLessThanOrEqual(8192);
    expect(Math.abs((xs[25_000] as number) - 16)).toBeLessThanOrEqual(1);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean).toBeGreaterThan(30); // mean = median·e^(σ²/2) ≈ 37: the tail pulls it far above the median
    expect(xs[Math.floor(xs.length * 0.999)] as number).toBeGreaterThan(20 * 16);
  });
});
