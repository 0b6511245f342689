/**
 * The fuzzing engine: it finds planted bugs, shrinks them to a case whose `spive simulate` command
 * reproduces the same violation, runs clean on a correct app, is deterministic for a seed, keeps to
 * its time budget, reports coverage, and every case it can generate is one `simulate` accepts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { simulate } from 'spive/sim';
import { fuzzApp, FuzzFailure } from 'spive/test';
import bank from '../../examples/bank/app.ts';
import arrivalOrder from '../../examples/buggy/arrival-order/app.ts';
import catchUpEffects from '../../examples/buggy/catch-up-effects/app.ts';
import { parseFaults, parseWorkload } from '../../cli/commands/simulate.ts';
import { caseArbitrary, caseOptions, compactFaults, fuzz, type FuzzCase, type FuzzResult } from '../../sim/fuzz.ts';
import { FAULT_KINDS, NO_FAULTS, resolveFaults } from '../../sim/faults.ts';
import { MARKS, reproCommand } from '../../sim/simulate.ts';
import { seededRandom } from '../../src/random/random.ts';

/** The `--faults` and `--workload` arguments of a printed command, unquoted as a shell would. */
function reproArgs(repro: string): { seed: number; faults: string; workload: string | undefined } {
  const seed = /--seed (-?\d+)/.exec(repro)?.[1];
  const faults = /--faults '([^']*)'/.exec(repro)?.[1];
  const workload = /--workload '([^']*)'/.exec(repro)?.[1];
  if (seed === undefined || faults === undefined) throw new Error(`not a simulate command: ${repro}`);
  return { seed: Number(seed), faults, workload };
}

/** The counterexample, read back from the printed command through the CLI's own parsers, reproduces the violation. */
async function expectReproduces(app: typeof bank, spec: string, r: FuzzResult): Promise<void> {
  const c = r.counterexample as FuzzCase;
  expect(r.repro).toBe(reproCommand(caseOptions(c, { appSpec: spec })));
  expect(r.repro?.startsWith(`npx spive simulate ${spec} --seed ${c.seed} --faults '`)).toBe(true);
  const args = reproArgs(r.repro as string);
  const faults = parseFaults(args.faults);
  const workload = args.workload === undefined ? {} : parseWorkload(args.workload);
  expect(faults).toEqual(c.faults);
  expect(workload).toEqual(c.workload);
  const again = await simulate(app, { seed: args.seed, faults, workload, appSpec: spec });
  expect(again.violations[0]?.invariant).toBe(r.violation?.invariant);
  expect(again.violations[0]).toEqual(r.violation);
  expect(again.repro).toBe(r.repro);
}

describe('fuzz', () => {
  it('finds arrival-order, shrinks it, and the printed command reproduces it; the same seed gives the same result', async () => {
    const spec = 'examples/buggy/arrival-order';
    const r = await fuzz(arrivalOrder, { seed: 1, runs: 200, timeBudgetMs: 30_000, appSpec: spec });
    expect(r.failed).toBe(true);
    expect(r.violation?.invariant).toBe('final state equals the fault-free run');
    expect(r.shrinks).toBeGreaterThan(0);
    expect(r.runs).toBeGreaterThanOrEqual(1);
    expect(r.simulations).toBeGreaterThan(r.coverage.runs);
    expect(r.coverage.runs).toBeLessThanOrEqual(r.runs);
    // Shrunk: no more events and keys than the case first found, and the workload at its floor or near it.
    const c = r.counterexample as FuzzCase;
    const o = r.original as FuzzCase;
    expect(c.workload.events ?? 100).toBeLessThanOrEqual(o.workload.events ?? 100);
    expect(c.workload.keys ?? 50).toBeLessThanOrEqual(o.workload.keys ?? 50);
    expect(JSON.stringify(c).length).toBeLessThanOrEqual(JSON.stringify(o).length);
    await expectReproduces(arrivalOrder, spec, r);

    const again = await fuzz(arrivalOrder, { seed: 1, runs: 200, timeBudgetMs: 30_000, appSpec: spec });
    expect({ ...again, elapsedMs: 0, foundAfterMs: 0 }).toEqual({ ...r, elapsedMs: 0, foundAfterMs: 0 });
    const other = await fuzz(arrivalOrder, { seed: 2, runs: 200, timeBudgetMs: 30_000, appSpec: spec });
    expect(other.original).not.toEqual(r.original);
  });

  it('finds catch-up-effects (a platform bug) within a small budget, and the shrunk command reproduces it', async () => {
    const spec = 'examples/buggy/catch-up-effects';
    const r = await fuzz(catchUpEffects, { seed: 1, timeBudgetMs: 20_000, shrinkBudgetMs: 10_000, appSpec: spec });
    expect(r.failed, JSON.stringify(r.coverage)).toBe(true);
    expect(r.violation?.invariant).toBe('no effect during catch-up');
    const c = r.counterexample as FuzzCase;
    // An effect during catch-up needs a runner that restarts: a crash or another fault that restarts it.
    expect(Object.keys(c.faults).filter((k) => k !== 'base').length).toBeGreaterThan(0);
    expect(r.coverage.marks['runner started or restarted']).toBeGreaterThan(0);
    await expectReproduces(catchUpEffects, spec, r);
  });

  it('runs the bank clean and reports coverage: every fault kind and mark counted, and which were never reached', async () => {
    const r = await fuzz(bank, { seed: 3, runs: 6, timeBudgetMs: 60_000, appSpec: 'examples/bank' });
    expect(r).toMatchObject({ failed: false, runs: 6, counterexample: null, repro: null, shrinks: 0, violation: null, interrupted: false });
    expect(Object.keys(r.coverage.faults).sort()).toEqual([...FAULT_KINDS].sort());
    expect(Object.keys(r.coverage.marks).sort()).toEqual(Object.values(MARKS).sort());
    expect(r.coverage.runs).toBeGreaterThan(0);
    expect(r.coverage.runs).toBeLessThanOrEqual(6); // repeated cases are not simulated again
    const zero = [...Object.entries(r.coverage.faults), ...Object.entries(r.coverage.marks)].filter(([k, n]) => n === 0 && k !== 'storeCrash').map(([k]) => k);
    expect(r.coverage.never.sort()).toEqual(zero.sort());
    expect(r.coverage.never).not.toContain('storeCrash'); // not searched with the memory store
    expect(Object.values(r.coverage.faults).some((n) => n > 0)).toBe(true);
    expect(r.coverage.marks['runner started or restarted']).toBeGreaterThan(0);
  });

  it('stops starting new cases when the time budget is used (always running at least one)', async () => {
    const r = await fuzz(bank, { seed: 1, runs: 1000, timeBudgetMs: 0, appSpec: 'examples/bank' });
    expect(r).toMatchObject({ failed: false, runs: 1, simulations: 1, interrupted: true });
  });

  it('generates only cases that `spive simulate --faults/--workload` accept, and shrinks towards no fault and a small workload', () => {
    const arb = caseArbitrary(bank, 'embedded');
    for (const c of fc.sample(arb, { seed: 7, numRuns: 300 })) {
      expect(c.faults.base).toBe('none');
      const faults = parseFaults(JSON.stringify(c.faults));
      expect(parseWorkload(JSON.stringify(c.workload))).toEqual(c.workload);
      const plan = resolveFaults(faults, seededRandom(0));
      expect(Object.keys(plan).sort()).toEqual(Object.keys(NO_FAULTS).sort());
      for (const key of ['slow', 'clock', 'gateway', 'latencyMs'] as const) expect(Object.keys(plan[key]).sort()).toEqual(Object.keys(NO_FAULTS[key]).sort());
      expect(JSON.stringify(c.workload)).not.toMatch(/ratePerSecond/);
    }
    // The bottom of the shrink tree: the fault-free plan, the smallest workload, seed 1.
    const details = fc.check(fc.property(arb, () => false), { seed: 11, numRuns: 1 });
    expect(details.counterexample?.[0]).toEqual({ seed: 1, faults: { base: 'none' }, workload: { events: 20, keys: 1, skew: 0 } });
    expect(compactFaults(NO_FAULTS)).toEqual({ base: 'none' });
  });

  it('fuzzApp (spive/test) throws with the reproduction command in the message, and resolves for a correct app', async () => {
    const spec = 'examples/buggy/arrival-order';
    const error = await fuzzApp(spec, { seed: 1, runs: 50 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FuzzFailure);
    const failure = error as FuzzFailure;
    expect(failure.result.repro).toMatch(/^npx spive simulate examples\/buggy\/arrival-order --seed \d+ --faults '/);
    expect(failure.message).toContain(failure.result.repro as string);
    expect(failure.message).toContain('final state equals the fault-free run');
    // An app object without its path: the command says <app> and the message says how to name it.
    await expect(fuzzApp(arrivalOrder, { seed: 1, runs: 50 })).rejects.toThrow(/npx spive simulate <app> --seed[\s\S]*appSpec/);
    const clean = await fuzzApp(bank, { seed: 1, runs: 2, appSpec: 'examples/bank' });
    expect(clean).toMatchObject({ failed: false, runs: 2 });
  });
});
