/**
 * Every planted bug under examples/buggy/ is found by `spive simulate --faults swarm` within seeds
 * 1..50, by the oracle meant for it, and the printed command reproduces it exactly.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { simulate } from 'spive/sim';
import { loadApp } from '../../src/app/load-app.ts';

const CASES = [
  { folder: 'unfenced-writer', invariants: ['single writer', 'no process stops on a bug'] },
  { folder: 'lost-update', invariants: ['every input reflected exactly once', 'no process stops on a bug'] },
  { folder: 'catch-up-effects', invariants: ['no effect during catch-up'] },
  { folder: 'arrival-order', invariants: ['final state equals the fault-free run'] },
  { folder: 'duplicate-append', invariants: ['every input reflected exactly once', 'no process stops on a bug'] },
  { folder: 'snapshot-gap', invariants: ['no process stops on a bug', 'final state equals the fault-free run'] },
];

describe('planted bugs', () => {
  for (const c of CASES) {
    it(`finds ${c.folder} within seeds 1..50 and reproduces it from the printed command`, async () => {
      const spec = `examples/buggy/${c.folder}`;
      const { app } = await loadApp(spec);
      let found: Awaited<ReturnType<typeof simulate>> | undefined;
      for (let seed = 1; seed <= 50 && found === undefined; seed++) {
        const r = await simulate(app, { seed, faults: 'swarm', appSpec: spec });
        if (r.violations.length > 0) found = r;
      }
      expect(found, `${c.folder} was not found in seeds 1..50`).toBeDefined();
      if (found === undefined) return;
      expect(c.invariants).toContain(found.violations[0]?.invariant);
      expect(found.repro).toBe(`npx spive simulate ${spec} --seed ${found.seed} --faults swarm`);
      const again = await simulate(app, { seed: found.seed, faults: 'swarm', appSpec: spec });
      expect(again.traceHash).toBe(found.traceHash);
      expect(again.violations).toEqual(found.violations);
    }, 300_000);
  }

  it('the printed command, run as a real process, exits 1 with the same violation', async () => {
    const spec = 'examples/buggy/arrival-order';
    const r = await simulate((await loadApp(spec)).app, { seed: 1, faults: 'swarm', appSpec: spec });
    expect(r.violations.length).toBeGreaterThan(0);
    const args = ['bin/spive.js', 'simulate', spec, '--seed', '1', '--faults', 'swarm'];
    const run = spawnSync(process.execPath, args, { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`VIOLATION of "${r.violations[0]?.invariant}"`);
    expect(run.stdout).toContain(r.repro);
    const json = spawnSync(process.execPath, [...args, '--json'], { encoding: 'utf8' });
    expect(json.status).toBe(1);
    const result = JSON.parse(json.stdout);
    expect(result.violations).toEqual(r.violations);
    expect(result.traceHash).toBe(r.traceHash);
  });
});
