/**
 * The simulator's speed, on the bank example (examples/bank) under the default fault plan.
 *
 * - sim.bank.platform-events (events/s; higher is better). Platform events (events appended to any
 *   stream of the simulated store: the workload's inputs and every process output) per wall second of
 *   a whole `simulate(bank, {seed, faults: 'default'})` call with the bank's own workload (1,000
 *   inputs at 100/s): what a user waits for, i.e. the faulty world, the fault-free reference world it
 *   is compared with, and the end-of-run oracles. Median over seeds.
 * - sim.bank.platform-events.faulty-run: the same, timing only the faulty world (a `World` driven
 *   by the same loop as simulate.ts's runWorld, trace hash included; checked against simulate's hash).
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
 * figure's unit over the same number of steps as the measured run took (both worlds' steps for a
 * whole `simulate`; the faulty world's for `.faulty-run`):
 *   events/s baseline = events × rawStepsPerSecond / steps; compression baseline = simulated s ×
 *   rawStepsPerSecond / steps. So every `ratio` reads: the fraction of the raw loop's speed reached.
 * Each figure is a median over seeds (7; 3 with --quick, which also shrinks the workloads 10x),
 * after one untimed warm-up run.
 */
import bank from '../../examples/bank/app.ts';
import type { AppDef } from '../../src/app/define.ts';
import { seededRandom } from '../../src/random/random.ts';
import { realClock } from '../../src/time/clock.ts';
import { installDeterminismGuard } from '../../sim/real-world-guard.ts';
import { resolveFaults, type FaultOptions } from '../../sim/faults.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { simulate } from '../../sim/simulate.ts';
import { Trace } from '../../sim/trace.ts';
import type { WorkloadShape } from '../../sim/workload.ts';
import { World } from '../../sim/world.ts';
import { fmt, info, median, type BenchResult } from './util.ts';

export interface SimSizes {
  /** Seeds per figure (1..seeds). */
  readonly seeds: number;
  /** Simulated seconds of input (the bank's own workload: 10 s at 100/s). */
  readonly inputSeconds: number;
}

interface WorldRun {
  readonly steps: number;
  readonly events: number;
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly traceHash: string;
  readonly ok: boolean;
}

interface SeedRun {
  readonly seed: number;
  /** The whole simulate() call. */
  readonly wallMs: number;
  readonly events: number;
  readonly simulatedMs: number;
  readonly traceHash: string;
  readonly faulty: WorldRun;
  readonly reference: WorldRun;
}

/**
 * One world from start to quiescence, driven as simulate.ts's runWorld drives it (same loop, same
 * trace rows hashed, same safety checks and quiescence test), timed alone. Kept in step with
 * runWorld by hand: `simSuite` checks that its trace hash equals simulate's.
 */
async function runWorld(app: AppDef, seed: number, faults: FaultOptions, workload: Partial<WorkloadShape>): Promise<WorldRun> {
  const started = performance.now();
  const guard = installDeterminismGuard();
  let world!: World;
  let quiesced = false;
  let violated = false;
  const trace = new Trace(false);
  try {
    world = new World({
      app,
      seed,
      random: seededRandom(seed),
      faults,
      workload,
      version: 'sim',
      onLog: (host, entry) => {
        if (entry.level === 'debug' && entry.kind !== 'effect.suppressed') return;
        trace.add({ step: world.scheduler.steps, simulatedMs: world.scheduler.now, kind: entry.kind, actor: host, stream: '', key: '', position: 0, detail: entry.message });
      },
      onCommit: (c) => trace.add({ step: c.step, simulatedMs: c.simulatedMs, kind: 'append', actor: c.token === undefined ? 'ingress' : `token ${c.token}`, stream: c.stream, key: c.key, position: c.firstPosition, detail: `${c.events.length} ${c.events[0]?.type ?? ''}` }),
    });
    world.scheduler.onStep = (s) => trace.add({ step: s.seq, simulatedMs: s.timeMs, kind: 'step', actor: s.label, stream: '', key: '', position: 0, detail: '' });
    await world.init();
    const lastArrival = world.start();
    const limit = lastArrival + 600_000;
    let lastSafetyCheck = -Infinity;
    const safety = app.invariants.filter((i) => i.kind === 'safety');
    while (world.scheduler.now < limit) {
      await world.scheduler.run(world.scheduler.now + 100);
      world.supervise();
      if (world.bug !== undefined || world.storeFailure !== undefined || world.driver.failure !== undefined) {
        violated = true;
        break;
      }
      if (safety.length > 0 && world.scheduler.now - lastSafetyCheck >= 1000 && world.allIdle()) {
        lastSafetyCheck = world.scheduler.now;
        const view = world.liveView();
        for (const inv of safety) if (world.asActor(`invariant '${inv.name}'`, () => inv.check(view)) !== undefined) violated = true;
        if (violated) break;
      }
      if (world.scheduler.now > lastArrival && (await world.quiescent())) {
        quiesced = true;
        break;
      }
    }
  } finally {
    guard.uninstall();
  }
  const wallMs = performance.now() - started;
  return {
    steps: world.scheduler.steps,
    events: world.commits.reduce((n, c) => n + c.events.length, 0),
    simulatedMs: world.scheduler.now,
    wallMs,
    traceHash: trace.digest(),
    ok: quiesced && !violated && guard.violation === undefined,
  };
}

async function runSeed(seed: number, workload: Partial<WorkloadShape>): Promise<SeedRun> {
  const started = performance.now();
  const r = await simulate(bank, { seed, faults: 'default', workload, wallClock: realClock });
  const wallMs = performance.now() - started;
  if (r.violations.length > 0) throw new Error(`seed ${seed}: the bank simulation found violations: ${JSON.stringify(r.violations).slice(0, 500)}`);
  const faulty = await runWorld(bank, seed, resolveFaults('default', seededRandom(seed)), workload);
  const reference = await runWorld(bank, seed, resolveFaults('none', seededRandom(seed)), workload);
  if (!faulty.ok || !reference.ok) throw new Error(`seed ${seed}: a world did not quiesce cleanly when run alone`);
  if (faulty.traceHash !== r.traceHash || faulty.steps !== r.steps || faulty.events !== r.events) {
    info(`WARNING seed ${seed}: the faulty world run alone differs from simulate's (hash ${faulty.traceHash.slice(0, 12)} vs ${r.traceHash.slice(0, 12)}, ${faulty.steps} vs ${r.steps} steps): test/bench/sim.ts's runWorld is out of step with sim/simulate.ts`);
  }
  return { seed, wallMs, events: r.events, simulatedMs: r.simulatedMs, traceHash: r.traceHash, faulty, reference };
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
  await runSeed(1_000_001, workload); // warm-up (JIT), untimed
  const runs: SeedRun[] = [];
  for (let seed = 1; seed <= sizes.seeds; seed++) {
    const s = await runSeed(seed, workload);
    runs.push(s);
    const totalSteps = s.faulty.steps + s.reference.steps;
    info(
      `  seed ${seed}: ${s.events} events, ${fmt(s.simulatedMs / 1000)} simulated s, ${s.faulty.steps} + ${s.reference.steps} steps; ` +
        `simulate ${fmt(s.wallMs)} ms (faulty world ${fmt(s.faulty.wallMs)}, reference ${fmt(s.reference.wallMs)}, oracles and rest ~${fmt(Math.max(0, s.wallMs - s.faulty.wallMs - s.reference.wallMs))}); ` +
        `${fmt(totalSteps / (s.wallMs / 1000))} steps/s; hash ${s.traceHash.slice(0, 12)}`,
    );
  }
  const pending = workload.events as number;
  const raw = await rawStepsPerSecond(Math.round(median(runs.map((s) => s.faulty.steps + s.reference.steps))), pending);
  info(`  raw scheduler loop (Scheduler.run of no-op steps, ${pending} pending): ${fmt(raw)} steps/s`);

  const whole = (s: SeedRun) => ({ steps: s.faulty.steps + s.reference.steps, seconds: s.wallMs / 1000 });
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
