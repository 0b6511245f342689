/**
 * The reference run (sim/reference-run.ts) computes the fault-free run of a workload directly. It
 * must agree with a simulated world without faults, whose final states are folded from its store as
 * the final-state oracle folds them: same states for every process and shard.
 */
import { describe, expect, it } from 'vitest';
import type { AppDef } from 'spive';
import bank from '../../examples/bank/app.ts';
import game from '../../examples/game/app.ts';
import { NO_FAULTS } from '../../sim/faults.ts';
import { canonical, foldProcess } from '../../sim/oracles/final-state.ts';
import { referenceRun } from '../../sim/reference-run.ts';
import { runWorld } from '../../sim/simulate.ts';

async function compare(app: AppDef, seed: number): Promise<number> {
  const { world, quiesced, violations } = await runWorld(app, { seed, workload: { events: 400 } }, NO_FAULTS, false);
  expect(violations).toEqual([]);
  expect(quiesced).toBe(true);
  const reference = referenceRun(app, app.processes, world.driver.inputs);
  let shards = 0;
  for (const p of app.processes) {
    const simulated = (await foldProcess(p, world.store)).states;
    const direct = reference.states.get(p.name) ?? new Map();
    expect([...direct.keys()].sort(), p.name).toEqual([...simulated.keys()].sort());
    for (const [key, state] of simulated) expect(canonical(direct.get(key)), `${p.name}/${key}`).toBe(canonical(state));
    shards += simulated.size;
  }
  expect(reference.events).toBe(world.commits.reduce((n, c) => n + c.events.length, 0));
  return shards;
}

describe('the reference run', () => {
  for (const [name, app] of [['bank', bank], ['game', game]] as const) {
    it(`ends in the same state as a fault-free simulated world (${name}, seeds 1..3)`, async () => {
      for (let seed = 1; seed <= 3; seed++) expect(await compare(app, seed)).toBeGreaterThan(5);
    }, 60_000);
  }
});
