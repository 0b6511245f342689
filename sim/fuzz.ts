/**
 * `fuzz(app, options)`: property-based search over simulation cases — the simulator's seed, a fault
 * plan (which faults, how often, how long) and the workload's shape (events, keys, skew) — for one
 * that makes `simulate` report a violation; then shrinking of that case to a minimal one: fewer
 * faults, rarer and shorter faults, fewer events and keys, less skew. The minimal case is printed as
 * one `spive simulate` command that reproduces it.
 *
 * fast-check drives the search and the shrinking (it does not shrink the scheduler's orderings: those
 * follow from the seed). The fault plan and the workload are plain data built from shrinkable
 * arbitraries, with every fault switched off by `null`/0 at the bottom of its shrink tree, so a
 * shrunk case is also a small, readable JSON object.
 *
 * Determinism: the same `seed` and `runs` give the same cases, the same counterexample and the same
 * shrinks. Only the time budget depends on the machine: when it cuts the search short the result
 * says how many runs were done (`runs`, `interrupted`).
 */
import fc from 'fast-check';
import type { AppDef } from '../src/app/define.ts';
import { realClock, type Clock } from '../src/time/clock.ts';
import { FAULT_KINDS, NO_FAULTS, type FaultOptions, type RangeMs } from './faults.ts';
import { MARKS, reproCommand, simulate, type SimulateOptions, type Violation } from './simulate.ts';
import { workloadShape, type WorkloadShape } from './workload.ts';

/** A fault plan on top of `none`: only the fields that differ from it (a compact, stable JSON). */
export type FuzzFaults = Partial<FaultOptions> & { readonly base: 'none' };

/** One simulation case: what `spive simulate --seed --faults --workload` takes. */
export interface FuzzCase {
  readonly seed: number;
  readonly faults: FuzzFaults;
  /** Overrides of the app's workload shape; fields equal to the app's own are left out. */
  readonly workload: Partial<WorkloadShape>;
}

export interface FuzzProgress {
  readonly phase: 'search' | 'shrink';
  /** Cases run in the search so far. */
  readonly runs: number;
  /** Successful shrinks so far. */
  readonly shrinks: number;
  readonly elapsedMs: number;
  /** The case just tried, whether it failed, and how long its simulation took (0 if seen before). */
  readonly case: FuzzCase;
  readonly failing: boolean;
  readonly simulationMs: number;
}

export interface FuzzOptions {
  /** fast-check's seed: the same seed (and runs) gives the same cases and the same result (default 1). */
  readonly seed?: number;
  /** Most cases to try (default 1000); the time budget usually ends the search first. */
  readonly runs?: number;
  /**
   * Wall time for the search (default 60 s): no new case starts after it. A counterexample found
   * within it is then shrunk for up to `shrinkBudgetMs` more.
   */
  readonly timeBudgetMs?: number;
  /** Wall time for shrinking, from the first failure (default: the time budget). */
  readonly shrinkBudgetMs?: number;
  /** How the app is named in the reproduction command (its path). */
  readonly appSpec?: string;
  /** `memory` (default) or `embedded` (then store crashes are searched too). */
  readonly store?: 'memory' | 'embedded';
  /** Wall clock for the budgets (default: the real one). */
  readonly wallClock?: Clock;
  /** Called after every simulation (for a progress line). */
  readonly onProgress?: (progress: FuzzProgress) => void;
}

export interface FuzzCoverage {
  /** Distinct search cases the counts are summed over. */
  readonly runs: number;
  /** How often each fault kind fired, summed over the search (every kind listed, 0 if never). */
  readonly faults: Record<string, number>;
  /** How often each runtime path ("mark") was reached, summed over the search (every mark listed). */
  readonly marks: Record<string, number>;
  /** Fault kinds that never fired and marks never reached: what the search did not exercise. */
  readonly never: string[];
}

export interface FuzzResult {
  /** fast-check's seed. */
  readonly seed: number;
  /** Cases tried in the search (up to and including the first failing one; a repeated case counts, but is not simulated again). */
  readonly runs: number;
  /** Every simulation run, search and shrinking (repeated cases are not run again). */
  readonly simulations: number;
  /** A counterexample was found. */
  readonly failed: boolean;
  /** The minimal failing case after shrinking, or null. */
  readonly counterexample: FuzzCase | null;
  /** The failing case as the search first found it, before shrinking. */
  readonly original: FuzzCase | null;
  /** The `spive simulate` command that reproduces the counterexample, or null. */
  readonly repro: string | null;
  /** Successful shrinking steps from the original to the counterexample. */
  readonly shrinks: number;
  /** The counterexample's first violation (shrinking keeps the invariant the search first broke). */
  readonly violation: Violation | null;
  readonly coverage: FuzzCoverage;
  /** The time budget ended the search before `runs` cases (no counterexample found in them). */
  readonly interrupted: boolean;
  /** The shrink budget ended shrinking early: the counterexample is smaller than the original but maybe not minimal. */
  readonly shrinkInterrupted: boolean;
  /** Wall ms until the first failing case was found (null when none was). */
  readonly foundAfterMs: number | null;
  readonly elapsedMs: number;
}

export const DEFAULT_FUZZ_RUNS = 1000;
export const DEFAULT_FUZZ_TIME_BUDGET_MS = 60_000;

/**
 * The shape of the search space (exported for documentation and tests). Values are drawn on coarse
 * grids (probabilities in steps of 1/2000, times in steps of 100 ms, events in steps of 10): shrinking
 * tries a handful of values per field instead of dozens, and the printed JSON stays short.
 */
export const FUZZ_SPACE = {
  /** Probabilities, up to these. */
  probability: { slow: 0.05, requestLost: 0.02, replyLost: 0.02, duplicateDelivery: 0.05, gatewayError: 0.2, gatewayTimeout: 0.1, gatewayReplyLost: 0.1 },
  /** Probabilities are multiples of 1/probabilityGrid. */
  probabilityGrid: 2000,
  /** Mean interval [min, max] ms (shrinks towards max: rarer); duration {min} fixed and max in [lo, hi] ms (shrinks towards lo: shorter). */
  storeOutage: { every: [2000, 30_000], duration: [100, 500, 10_000] },
  storeCrash: { every: [2000, 30_000], duration: [50, 200, 5000] },
  partition: { every: [1000, 20_000], duration: [100, 500, 15_000] },
  crash: { every: [1000, 20_000], duration: [10, 100, 10_000] },
  pause: { every: [1000, 20_000], duration: [100, 1000, 20_000] },
  timeStepMs: 100,
  /** Latency max (store calls, gateway calls), the slow-call extra, the request timeout: off = the `none` plan's. */
  latencyMaxMs: 50,
  gatewayLatencyMaxMs: 1000,
  slowExtraMaxMs: 3000,
  timeoutMs: [200, 3000],
  maxSkewMs: 10_000,
  maxDriftPpm: 2000,
  /** Faults begin at a fraction in [0, maxStartFraction] of the arrival period (steps of 0.1; shrinks towards later). */
  maxStartFraction: 0.8,
  /** Workload: events in [min(20, app's), app's] in steps of 10, keys in [1, app's], skew in [0, 1.5] in steps of 0.05. */
  minEvents: 20,
  eventsStep: 10,
  maxSkew: 1.5,
  skewStep: 0.05,
} as const;

/** The arbitrary of cases for an app: every part shrinks towards "less": no fault, smaller workload. */
export function caseArbitrary(app: AppDef, store: 'memory' | 'embedded' = 'memory'): fc.Arbitrary<FuzzCase> {
  if (app.workload === undefined) throw new TypeError(`app ${app.name} declares no workload; add \`workload: { make, ... }\` to defineApp to fuzz it`);
  const shape = workloadShape(app.workload);
  const S = FUZZ_SPACE;
  /** On half of the time (as in swarm testing); shrinks to off first. */
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 2 });
  /** `n` grid steps above `from`, shrinking towards `from`. */
  const grid = (from: number, to: number, step: number) => fc.integer({ min: 0, max: Math.max(0, Math.floor((to - from) / step)) }).map((n) => from + n * step);
  const probability = (max: number) => maybe(fc.integer({ min: 1, max: Math.round(max * S.probabilityGrid) })).map((n) => (n === null ? 0 : n / S.probabilityGrid));
  /** Shrinks towards max: a rarer fault. */
  const rarer = ([min, max]: readonly [number, number]) => grid(0, max - min, S.timeStepMs).map((x) => max - x);
  /** A range {min, max} whose max shrinks towards its lower bound: a shorter fault. */
  const shorter = ([min, lo, hi]: readonly [number, number, number]): fc.Arbitrary<RangeMs> => grid(lo, hi, S.timeStepMs).map((max) => ({ min, max }));
  type Periodic = { every: readonly [number, number]; duration: readonly [number, number, number] };
  const periodic = (space: Periodic) => maybe(fc.record({ meanIntervalMs: rarer(space.every), durationMs: shorter(space.duration) }));
  const periodicDown = (space: Periodic) => maybe(fc.record({ meanIntervalMs: rarer(space.every), downtimeMs: shorter(space.duration) }));
  const none = NO_FAULTS;
  const faults = fc
    .record({
      crash: periodicDown(S.crash),
      pause: periodic(S.pause),
      partition: periodic(S.partition),
      storeOutage: periodic(S.storeOutage),
      storeCrash: store === 'embedded' ? periodicDown(S.storeCrash) : fc.constant(null),
      requestLost: probability(S.probability.requestLost),
      replyLost: probability(S.probability.replyLost),
      duplicateDelivery: probability(S.probability.duplicateDelivery),
      slow: maybe(fc.record({ probability: fc.integer({ min: 1, max: Math.round(S.probability.slow * S.probabilityGrid) }).map((n) => n / S.probabilityGrid), extraMax: grid(100, S.slowExtraMaxMs, S.timeStepMs) })),
      gateway: maybe(
        fc.record({
          error: probability(S.probability.gatewayError),
          timeout: probability(S.probability.gatewayTimeout),
          replyLost: probability(S.probability.gatewayReplyLost),
          latencyMax: maybe(fc.integer({ min: none.gateway.latencyMs.max + 1, max: S.gatewayLatencyMaxMs })),
        }),
      ),
      clock: maybe(fc.record({ maxSkewMs: maybe(grid(S.timeStepMs, S.maxSkewMs, S.timeStepMs)), maxDriftPpm: maybe(grid(10, S.maxDriftPpm, 10)) })),
      latencyMax: maybe(fc.integer({ min: none.latencyMs.max + 1, max: S.latencyMaxMs })),
      /** Off: the default 1000 ms. */
      timeoutMs: maybe(grid(S.timeoutMs[0], S.timeoutMs[1], S.timeStepMs)),
      /** When faults begin (a fraction of the arrival period), shrinking towards later. */
      startFraction: grid(0, S.maxStartFraction * 10, 1).map((n) => Math.round((S.maxStartFraction * 10 - n) * 10) / 100),
    })
    .map((f): FuzzFaults => {
      const plan: FaultOptions = {
        ...none,
        latencyMs: f.latencyMax === null ? none.latencyMs : { min: none.latencyMs.min, max: f.latencyMax },
        slow: f.slow === null ? none.slow : { probability: f.slow.probability, extraMs: { min: 10, max: f.slow.extraMax } },
        requestLost: f.requestLost,
        replyLost: f.replyLost,
        duplicateDelivery: f.duplicateDelivery,
        timeoutMs: f.timeoutMs ?? none.timeoutMs,
        startFraction: f.startFraction,
        storeOutage: f.storeOutage,
        storeCrash: f.storeCrash,
        partition: f.partition,
        crash: f.crash,
        pause: f.pause,
        clock: { maxSkewMs: f.clock?.maxSkewMs ?? 0, maxDriftPpm: f.clock?.maxDriftPpm ?? 0 },
        gateway:
          f.gateway === null
            ? none.gateway
            : { error: f.gateway.error, timeout: f.gateway.timeout, replyLost: f.gateway.replyLost, latencyMs: f.gateway.latencyMax === null ? none.gateway.latencyMs : { min: none.gateway.latencyMs.min, max: f.gateway.latencyMax } },
      };
      return compactFaults(plan);
    });
  const minEvents = Math.min(S.minEvents, shape.events);
  const workload = fc
    .record({
      events: grid(minEvents, shape.events, S.eventsStep),
      keys: fc.integer({ min: 1, max: Math.max(1, shape.keys) }),
      skew: grid(0, S.maxSkew / S.skewStep, 1).map((n) => Math.round(n * S.skewStep * 100) / 100),
    })
    .map((w) => compactWorkload(w, shape));
  // Field order is shrink order: the workload first (a smaller workload makes every later attempt
  // cheaper), then whole faults, the seed last.
  return fc.record({ workload, faults, seed: fc.integer({ min: 1, max: 999_999 }) }).map(({ seed, faults, workload }) => ({ seed, faults, workload }));
}

/** The plan as `{"base":"none", ...fields that differ from none}`, in FaultOptions' field order. */
export function compactFaults(plan: FaultOptions): FuzzFaults {
  const out: Record<string, unknown> = { base: 'none' };
  for (const key of Object.keys(NO_FAULTS) as Array<keyof FaultOptions>) {
    if (JSON.stringify(plan[key]) !== JSON.stringify(NO_FAULTS[key])) out[key] = plan[key];
  }
  // When faults begin says nothing when there is no fault: keep the case (and the command) short.
  if (Object.keys(out).every((k) => k === 'base' || k === 'startFraction')) delete out.startFraction;
  return out as FuzzFaults;
}

/** The workload fields that differ from the app's own shape. */
export function compactWorkload(w: Partial<WorkloadShape>, shape: WorkloadShape): Partial<WorkloadShape> {
  const out: { -readonly [K in keyof WorkloadShape]?: number } = {};
  for (const key of ['events', 'ratePerSecond', 'keys', 'skew'] as const) {
    const v = w[key];
    if (v !== undefined && v !== shape[key]) out[key] = v;
  }
  return out;
}

/** What `simulate` options a case stands for. */
export function caseOptions(c: FuzzCase, options: Pick<FuzzOptions, 'appSpec' | 'store'> = {}): SimulateOptions {
  return {
    seed: c.seed,
    faults: c.faults,
    workload: c.workload,
    ...(options.appSpec === undefined ? {} : { appSpec: options.appSpec }),
    ...(options.store === undefined || options.store === 'memory' ? {} : { store: options.store }),
  };
}

interface Outcome {
  readonly violations: Violation[];
}

export async function fuzz(app: AppDef, options: FuzzOptions = {}): Promise<FuzzResult> {
  const clock = options.wallClock ?? realClock;
  const seed = options.seed ?? 1;
  const numRuns = options.runs ?? DEFAULT_FUZZ_RUNS;
  const budgetMs = options.timeBudgetMs ?? DEFAULT_FUZZ_TIME_BUDGET_MS;
  const shrinkBudgetMs = options.shrinkBudgetMs ?? budgetMs;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`fuzz: seed must be a safe integer, got ${seed}`);
  if (!Number.isSafeInteger(numRuns) || numRuns < 1) throw new RangeError(`fuzz: runs must be a positive integer, got ${numRuns}`);
  const arbitrary = caseArbitrary(app, options.store);
  const started = clock.monotonicMs();

  const faultCounts: Record<string, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0]));
  const markCounts: Record<string, number> = Object.fromEntries(Object.values(MARKS).map((m) => [m, 0]));
  const cache = new Map<string, Outcome>();
  let runs = 0;
  let covered = 0;
  let simulations = 0;
  let shrinks = 0;
  let interrupted = false;
  let shrinkInterrupted = false;
  let target: string | undefined; // the invariant the search first broke; shrinking keeps it
  let foundAt: number | undefined;
  let original: FuzzCase | null = null;
  let last: { c: FuzzCase; violation: Violation } | undefined;
  let crashed: { error: unknown } | undefined;

  const property = fc.asyncProperty(arbitrary, async (c) => {
    const now = clock.monotonicMs();
    if (foundAt === undefined) {
      // Always run at least one case; after the budget no new case starts.
      if (runs > 0 && now - started >= budgetMs) {
        interrupted = true;
        throw new fc.PreconditionFailure(true);
      }
    } else if (now - foundAt >= shrinkBudgetMs) {
      shrinkInterrupted = true;
      throw new fc.PreconditionFailure(true);
    }
    if (foundAt === undefined) runs++;
    const key = JSON.stringify(c);
    let outcome = cache.get(key);
    let simulationMs = 0;
    if (outcome === undefined) {
      let r: Awaited<ReturnType<typeof simulate>>;
      try {
        r = await simulate(app, caseOptions(c, options));
      } catch (e) {
        // The simulator itself failed (not the app): stop the search and report it as it is.
        crashed = { error: e };
        throw new fc.PreconditionFailure(true);
      }
      simulationMs = clock.monotonicMs() - now;
      simulations++;
      outcome = { violations: r.violations };
      cache.set(key, outcome);
      if (foundAt === undefined) {
        covered++;
        for (const [k, n] of Object.entries(r.faults)) faultCounts[k] = (faultCounts[k] ?? 0) + n;
        for (const [k, n] of Object.entries(r.marks)) markCounts[k] = (markCounts[k] ?? 0) + n;
      }
    }
    const first = outcome.violations[0];
    const failing = first !== undefined && (target === undefined || first.invariant === target);
    if (failing) {
      if (target === undefined) {
        target = first.invariant;
        foundAt = clock.monotonicMs();
        original = c;
      } else {
        shrinks++;
      }
      last = { c, violation: first };
    }
    options.onProgress?.({ phase: foundAt === undefined ? 'search' : 'shrink', runs, shrinks, elapsedMs: clock.monotonicMs() - started, case: c, failing, simulationMs });
    return !failing;
  });

  const details = await fc.check(property, { seed, numRuns, endOnFailure: false, maxSkipsPerRun: 0 });
  if (crashed !== undefined) throw crashed.error;
  const counterexample = details.failed && details.counterexample !== null ? details.counterexample[0] : null;
  if (counterexample !== null && (last === undefined || JSON.stringify(last.c) !== JSON.stringify(counterexample))) {
    // The last failing evaluation is the counterexample fast-check reports; anything else is a bug here.
    throw new Error('fuzz: the counterexample is not the last failing case');
  }
  const never = [
    ...Object.entries(faultCounts).filter(([k, n]) => n === 0 && (k !== 'storeCrash' || options.store === 'embedded')).map(([k]) => k),
    ...Object.entries(markCounts).filter(([, n]) => n === 0).map(([k]) => k),
  ];
  return {
    seed,
    runs,
    simulations,
    failed: counterexample !== null,
    counterexample,
    original,
    repro: counterexample === null ? null : reproCommand(caseOptions(counterexample, options)),
    shrinks: counterexample === null ? 0 : details.numShrinks,
    violation: counterexample === null ? null : (last?.violation ?? null),
    coverage: { runs: covered, faults: faultCounts, marks: markCounts, never },
    interrupted: counterexample === null && interrupted,
    shrinkInterrupted: counterexample !== null && shrinkInterrupted,
    foundAfterMs: foundAt === undefined ? null : Math.round(foundAt - started),
    elapsedMs: Math.round(clock.monotonicMs() - started),
  };
}
