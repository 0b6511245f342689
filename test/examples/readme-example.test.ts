/** The README's small app is examples/clicks/app.ts, word for word, and it passes the simulator under default faults. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import clicks from '../../examples/clicks/app.ts';
import { simulate } from '../../sim/simulate.ts';

describe('the README example', () => {
  it('is examples/clicks/app.ts', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /## A small app[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(readFileSync(new URL('../../examples/clicks/app.ts', import.meta.url), 'utf8'));
  });

  it('passes the simulator with default faults, the same trace for the same seed', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await simulate(clicks, { seed, faults: 'default' });
      expect(r.violations).toEqual([]);
      expect(r.events).toBeGreaterThan(0);
      expect((await simulate(clicks, { seed, faults: 'default' })).traceHash).toBe(r.traceHash);
    }
  });
});
