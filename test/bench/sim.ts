/**
 * The simulator's speed, on the bank example (examples/bank) under the default fault plan.
 *
 * - sim.bank.platform-events (events/s; higher is better). Platform events (events appended to any
 *   stream of the simulated store: the workload's inputs and every process output) per wall second of
 *   a whole `simulate(bank, {seed, faults: 'default'})` call with the bank's own workload (1,000
 *   inputs at 100/s): what a user waits for, i.e. the faulty world, the fault-free reference run it
 *   is compared with (sim/reference-run.ts: no scheduler steps), and the end-of-run oracles. Median
 *   over seeds.
 * - sim.bank.platform-events.faulty-run: the same, timing only the faulty world (a `World` driven
 *   as simulate() itself reports it in its per-phase timings).
 * - sim.compression.100-per-s / sim.compression.1000-per-s (simulated s per wall s; higher is
 *   better). Time compression of a whole `simulate` call whose workload sends inputs at 100 and
 *   1,000 per simulated second, over the same 10 simulated seconds of input (1,000 and 10,000
 *   inputs); the simulated span is the faulty world's, until it quiesces. `.faulty-run`: the faulty
 *   world alone, as above.
 *
 * Baseline for all: the raw scheduler loop, i.e. the floor a simulator built on sim/scheduler.ts
 * cannot beat. One raw step is a step of `Scheduler.run` that does nothing but schedule its
 * replacement: a TimeQueue push and pop (the queue holding as many pending steps as the workload
 * pre-schedules arrivals), the callback bookkeeping, and the scheduler's wait for the step's promise
 * continuations (one setImmediate callback per step). Its measured steps/s is turned into the
 * figure's unit over the same number of steps as the measured run took (the faulty world's: the
 * reference run takes no scheduler steps):
 *   events/s baseline = events × rawStepsPerSecond / steps; compression baseline = simulated s ×
 *   rawStepsPerSecond / steps. So every `ratio` reads: the fraction of the raw loop's speed reached.
 * Each figure is a median over seeds (7; 3 with --quick, which also shrinks the workloads 10x),
 * after untimed warm-up seeds that simulate 300k platform events (30k with --quick): a warm process,
 * as a fuzz campaign or seed sweep runs. `sim.bank.platform-events.first-run` is the first of those
 * runs alone (a cold process, as one `spive simulate` is), against the same raw-loop floor.
 */
import bank from '../../examples/bank/app.ts';
import { realClock } from '../../src/time/clock.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { simulate } from '../../sim/simulate.ts';
import type { WorkloadShape } from '../../sim/workload.ts';
import { fmt, info, median, type BenchResult } from './util.ts';

export interface SimSizes {
  /** Seeds per figure (1..seeds). */
  readonly seeds: number;
  /** Simulated seconds of input (the bank's own workload: 10 s at 100/s). */
  readonly inputSeconds: number;
  /** Platform events simulated, in seeds of their own, before the timed seeds (JIT warm-up). */
  readonly warmUpEvents: number;
}

interface WorldRun {
  readonly steps: number;
  readonly wallMs: number;
}

interface SeedRun {
  readonly seed: number;
  /** The whole simulate() call. */
  readonly wallMs: number;
  readonly events: number;
  readonly simulatedMs: number;
  readonly traceHash: string;
  readonly faulty: WorldRun;
  /** The fault-free reference run (no scheduler) and the end-of-run oracles. */
  readonly referenceMs: number;
  readonly oraclesMs: number;
}

/** One bank simulation, with simulate's own per-phase timings (faulty world, reference world). */
async function runSeed(seed: number, workload: Partial<WorkloadShape>): Promise<SeedRun> {
  const started = performance.now();
  const r = await simulate(bank, { seed, faults: 'default', workload, wallClock: realClock });
  const wallMs = performance.now() - started;
  if (r.violations.length > 0) throw new Error(`seed ${seed}: the bank simulation found violations: ${JSON.stringify(r.violations).slice(0, 500)}`);
  if (r.phases === null) throw new Error('simulate reports phase timings when given a wall clock');
  return {
    seed,
    wallMs,
    events: r.events,
    simulatedMs: r.simulatedMs,
    traceHash: r.traceHash,
    faulty: { steps: r.steps, wallMs: r.phases.faultyMs },
    referenceMs: r.phases.referenceMs,
    oraclesMs: r.phases.oraclesMs,
  };
}

/**
 * The raw scheduler loop: `steps` steps through sim/scheduler.ts's Scheduler.run, each doing no
 * platform work but scheduling one step to replace itself (so `pending` steps stay queued, as the
 * workload's pre-scheduled arrivals do). The cost is the TimeQueue push + pop, the callback
 * bookkeeping and the scheduler's wait for the step's continuations. Returns steps per second.
 */
async function rawLoop(steps: number, pending: number): Promise<number> {
  const scheduler = new Scheduler();
  let scheduled = 0;
  const step = (): void => {
    if (scheduled < steps) {
      scheduled++;
      scheduler.after(pending, step, 'raw');
    }
  };
  for (; scheduled < Math.min(pending, steps); scheduled++) scheduler.at(scheduled, step, 'raw');
  const started = performance.now();
  await scheduler.run(Number.POSITIVE_INFINITY);
  const seconds = (performance.now() - started) / 1000;
  if (scheduler.steps !== steps || scheduler.pending !== 0) throw new Error(`raw loop: ${scheduler.steps} steps run, ${scheduler.pending} left`);
  return steps / seconds;
}

async function rawStepsPerSecond(steps: number, pending: number): Promise<number> {
  await rawLoop(Math.min(steps, 20_000), pending); // warm-up
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) rates.push(await rawLoop(steps, pending));
  return median(rates);
}

/** One workload (inputs per simulated second): every seed, the figures, the baselines. */
async function simSuite(ratePerSecond: number, sizes: SimSizes, names: { events?: string; compression: string }, results: (r: BenchResult) => void): Promise<void> {
  const workload: Partial<WorkloadShape> = { ratePerSecond, events: Math.round(ratePerSecond * sizes.inputSeconds) };
  info(`sim: bank, default faults, ${workload.events} inputs at ${ratePerSecond}/s, seeds 1..${sizes.seeds}`);
  // Warm-up, untimed in the figures: seeds of their own until the process has simulated WARM_UP_EVENTS
  // platform events. V8 needs that much work before a run's time settles (in one process, bank seeds
  // 2..8 took 30–100 ms, from about the 40th on 22–26 ms): with one warm-up run the figures measured
  // mostly the compiler. A fuzz campaign or a seed sweep runs warm; a single `spive simulate` does
  // not, so the first run's figure is reported too (`.first-run`).
  const first = await runSeed(1_000_001, workload);
  let warmed = first.events;
  for (let seed = 1_000_002; warmed < sizes.warmUpEvents; seed++) warmed += (await runSeed(seed, workload)).events;
  info(`  warm-up: ${fmt(warmed)} platform events; the first run ${fmt(first.wallMs)} ms (${fmt(first.events / (first.wallMs / 1000))} events/s)`);
  const runs: SeedRun[] = [];
  for (let seed = 1; seed <= sizes.seeds; seed++) {
    const s = await runSeed(seed, workload);
    runs.push(s);
    info(
      `  seed ${seed}: ${s.events} events, ${fmt(s.simulatedMs / 1000)} simulated s, ${s.faulty.steps} steps; ` +
        `simulate ${fmt(s.wallMs)} ms (faulty world ${fmt(s.faulty.wallMs)}, reference run ${fmt(s.referenceMs)}, oracles ${fmt(s.oraclesMs)}, rest ~${fmt(Math.max(0, s.wallMs - s.faulty.wallMs - s.referenceMs - s.oraclesMs))}); ` +
        `${fmt(s.faulty.steps / (s.wallMs / 1000))} steps/s; hash ${s.traceHash.slice(0, 12)}`,
    );
  }
  const pending = workload.events as number;
  const raw = await rawStepsPerSecond(Math.round(median(runs.map((s) => s.faulty.steps))), pending);
  info(`  raw scheduler loop (Scheduler.run of no-op steps, ${pending} pending): ${fmt(raw)} steps/s`);
  info(`  scheduler steps per platform event: ${fmt(median(runs.map((s) => s.faulty.steps / s.events)))}`);

  if (names.events !== undefined) results({ bench: `${names.events}.first-run`, value: first.events / (first.wallMs / 1000), unit: 'events/s', baseline: (first.events * raw) / first.faulty.steps });
  const whole = (s: SeedRun) => ({ steps: s.faulty.steps, seconds: s.wallMs / 1000 });
  const alone = (s: SeedRun) => ({ steps: s.faulty.steps, seconds: s.faulty.wallMs / 1000 });
  for (const [suffix, pick] of [['', whole], ['.faulty-run', alone]] as const) {
    {
      const value = median(runs.map((s) => s.events / pick(s).seconds));
      const baseline = median(runs.map((s) => (s.events * raw) / pick(s).steps));
      info(`  ${names.events ?? `platform events at ${ratePerSecond}/s`}${suffix}: ${fmt(value)} platform events/s (raw-loop floor ${fmt(baseline)})`);
      if (names.events !== undefined) results({ bench: `${names.events}${suffix}`, value, unit: 'events/s', baseline });
    }
    const value = median(runs.map((s) => s.simulatedMs / 1000 / pick(s).seconds));
    const baseline = median(runs.map((s) => ((s.simulatedMs / 1000) * raw) / pick(s).steps));
    info(`  ${names.compression}${suffix}: ${fmt(value)}x (raw-loop floor ${fmt(baseline)}x)`);
    results({ bench: `${names.compression}${suffix}`, value, unit: 'simulated s/s', baseline });
  }
}

export async function simBank(sizes: SimSizes, results: (r: BenchResult) => void): Promise<void> {
  await simSuite(100, sizes, { events: 'sim.bank.platform-events', compression: 'sim.compression.100-per-s' }, results);
}

export async function simCompression1000(sizes: SimSizes, results: (r: BenchResult) => void): Promise<void> {
  await simSuite(1000, sizes, { compression: 'sim.compression.1000-per-s' }, results);
}
