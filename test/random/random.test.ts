import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveSeed, seededRandom } from 'spive';

const draws = (r: ReturnType<typeof seededRandom>, n: number) => Array.from({ length: n }, () => r.float());

describe('seeded random streams', () => {
  it('repeats exactly for the same seed and differs for another', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(draws(seededRandom(seed), 20)).toEqual(draws(seededRandom(seed), 20));
        expect(draws(seededRandom(seed), 20)).not.toEqual(draws(seededRandom(seed + 1), 20));
      }),
    );
  });

  it('derives named streams from the seed alone, so drawing from one never shifts another', () => {
    const root = seededRandom(7);
    const faultsFirst = root.stream('faults');
    draws(root.stream('workload'), 1000); // a new consumer draws a lot...
    const faultsAgain = seededRandom(7).stream('faults');
    expect(draws(faultsFirst, 10)).toEqual(draws(faultsAgain, 10)); // ...and 'faults' is unchanged
    expect(draws(seededRandom(7).stream('a'), 5)).not.toEqual(draws(seededRandom(7).stream('b'), 5));
    expect(deriveSeed(7, 'faults')).toBe(deriveSeed(7, 'faults'));
  });

  it('keeps draws in their documented ranges', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (seed, from, width) => {
        const r = seededRandom(seed);
        for (let i = 0; i < 50; i++) {
          const f = r.float();
          expect(f >= 0 && f < 1).toBe(true);
          const n = r.int(from, from + width);
          expect(Number.isInteger(n) && n >= from && n <= from + width).toBe(true);
        }
        expect(r.chance(0)).toBe(false);
        expect(r.chance(1)).toBe(true);
        expect(['x', 'y']).toContain(r.pick(['x', 'y']));
      }),
    );
    expect(() => seededRandom(1).pick([])).toThrow(/empty/);
    expect(() => seededRandom(1.5)).toThrow(/safe integer/);
  });

  it('spreads draws roughly uniformly', () => {
    const r = seededRandom(123);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) buckets[Math.floor(r.float() * 10)]++;
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });
});

describe('small seeds', () => {
  it('give well-spread first draws (no weak initial states)', () => {
    const firsts = Array.from({ length: 200 }, (_, seed) => seededRandom(seed).float());
    const mean = firsts.reduce((a, b) => a + b, 0) / firsts.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.08);
    expect(firsts.filter((f) => f > 0.99).length).toBeLessThan(10);
  });
});
