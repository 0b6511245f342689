/**
 * `simulate(app, options)`: runs an app's workload in a deterministic simulated world under a fault
 * plan, checks the app's invariants and the built-in oracles, and returns the result object of the
 * command-line contract. The same seed gives the same trace hash, byte for byte.
 */
import type { AppDef } from '../src/app/define.ts';
import { seededRandom } from '../src/random/random.ts';
import type { Clock } from '../src/time/clock.ts';
import { DeterminismViolationError, installDeterminismGuard } from './real-world-guard.ts';
import { resolveFaults, type FaultOptions, type FaultPreset } from './faults.ts';
import { checkAckedInputs } from './oracles/acked-inputs.ts';
import { checkEffects, digitsOnly } from './oracles/effects.ts';
import { compareReflections, reflections, type Reflections } from './oracles/exactly-once.ts';
import { canonical, foldProcessOver, inputName, readStreamsFully, sameJson, type ExpectedEffect } from './oracles/final-state.ts';
import { checkSingleWriter } from './oracles/single-writer.ts';
import type { Violation } from './oracles/violation.ts';
import { joinOrderedOutputs, referenceRun, type CommittedOrder, type ReferenceRun } from './reference-run.ts';
import { Trace } from './trace.ts';
import { World, type FaultEvent } from './world.ts';
import type { EventMeta } from '../src/model/event.ts';
import type { WorkloadShape } from './workload.ts';

export type { Violation } from './oracles/violation.ts';

export interface SimulateOptions {
  readonly seed: number;
  /** A preset, or a fault plan object (fields not given keep the default preset's). */
  readonly faults?: FaultPreset | (Partial<FaultOptions> & { base?: FaultPreset });
  /** Overrides of the app's workload shape (events, ratePerSecond, keys, skew). */
  readonly workload?: Partial<WorkloadShape>;
  /** Keep every trace row (for --trace); the hash is computed either way. */
  readonly keepTrace?: boolean;
  /** How the app is named in the reproduction command (its path). */
  readonly appSpec?: string;
  /** Wall clock for `wallMs` (read outside the simulated run). */
  readonly wallClock?: Clock;
  /** Simulated ms allowed after the last input for the system to heal and quiesce (default 600 s). */
  readonly quiesceMs?: number;
  /** `memory` (default) or `embedded`: the embedded store on a simulated disk that can lose power. */
  readonly store?: 'memory' | 'embedded';
}

export interface SimulationResult {
  readonly seed: number;
  readonly traceHash: string;
  /** Platform events: events appended to any stream of the simulated store. */
  readonly events: number;
  readonly steps: number;
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly faults: Record<string, number>;
  readonly violations: Violation[];
  readonly repro: string;
  /**
   * Runtime paths the run reached ("marks"), with counts: catch-up entered, lease lost, snapshot
   * restored, retry became overdue, effect suppressed, … — what a search exercised and what it never did.
   */
  readonly marks: Record<string, number>;
  /**
   * Wall time of each phase (only when a `wallClock` was given; never part of the trace or its hash):
   * the faulty world, the fault-free reference run (sim/reference-run.ts), and the end-of-run oracles.
   */
  readonly phases: { readonly faultyMs: number; readonly referenceMs: number; readonly oraclesMs: number } | null;
  /** Not in the JSON contract's minimum, but useful: the resolved fault plan and workload shape. */
  readonly plan: { readonly faults: FaultOptions; readonly workload: WorkloadShape };
  readonly trace: Trace;
}

export interface RunOutcome {
  marks: Record<string, number>;
  world: World;
  trace: Trace;
  violations: Violation[];
  quiesced: boolean;
}

export async function simulate(app: AppDef, options: SimulateOptions): Promise<SimulationResult> {
  const startedWallMs = options.wallClock?.monotonicMs() ?? 0;
  const random = seededRandom(options.seed);
  const faults = resolveFaults(options.faults ?? 'default', random.stream('swarm'));
  const guard = installDeterminismGuard();
  let faulty: RunOutcome;
  let reference: ReferenceRun | { readonly bug: unknown } | undefined;
  const t0 = guard.wallMs();
  let t1 = t0;
  let t2 = t0;
  try {
    faulty = await runWorld(app, options, faults, options.keepTrace === true);
    t1 = guard.wallMs();
    // The fault-free run of the same workload, only needed (and only complete) when the faulty one is.
    if (faulty.violations.length === 0 && faulty.quiesced && guard.violation === undefined) reference = runReference(app, faulty.world, await committedOrder(app, faulty.world));
    t2 = guard.wallMs();
  } finally {
    guard.uninstall();
  }
  const oraclesStartedMs = options.wallClock?.monotonicMs() ?? 0;
  const violations = [...faulty.violations];
  if (guard.violation !== undefined) violations.unshift(determinismViolation(guard.violation, faulty.world));
  const end = { step: faulty.world.scheduler.steps, simulatedMs: faulty.world.scheduler.now };
  if (violations.length === 0 && reference !== undefined && 'bug' in reference) {
    const why = reference.bug instanceof Error ? reference.bug.message : String(reference.bug);
    violations.push({ invariant: 'no process stops on a bug', ...end, message: `in the fault-free run: ${why}` });
  }
  if (violations.length === 0 && reference !== undefined && 'states' in reference) {
    violations.push(...(await compareRuns(app, faulty.world, reference, end)));
  }
  for (const v of violations) faulty.trace.add({ step: v.step, simulatedMs: v.simulatedMs, kind: 'violation', actor: v.invariant, stream: '', key: '', position: 0, detail: v.message });
  const plan = { faults, workload: faulty.world.shape };
  return {
    seed: options.seed,
    traceHash: faulty.trace.digest(),
    events: faulty.world.commits.reduce((n, c) => n + c.events.length, 0),
    steps: faulty.world.scheduler.steps,
    simulatedMs: Math.round(faulty.world.scheduler.now),
    wallMs: Math.round((options.wallClock?.monotonicMs() ?? 0) - startedWallMs),
    faults: { ...faulty.world.faultCounts },
    violations,
    repro: reproCommand(options),
    marks: { ...faulty.marks },
    phases:
      options.wallClock === undefined
        ? null
        : { faultyMs: t1 - t0, referenceMs: t2 - t1, oraclesMs: options.wallClock.monotonicMs() - oraclesStartedMs },
    plan,
    trace: faulty.trace,
  };
}

/** The fault-free run of the faulty world's workload (app code that throws in it is reported, not thrown). */
function runReference(app: AppDef, world: World, committed: CommittedOrder): ReferenceRun | { readonly bug: unknown } {
  try {
    return referenceRun(app, app.processes.map((p) => world.guarded(p)), world.driver.inputs, committed);
  } catch (bug) {
    return { bug };
  }
}

/** The order the world committed the process outputs that joins read (app events only). */
async function committedOrder(app: AppDef, world: World): Promise<CommittedOrder> {
  const order = new Map<string, string[]>();
  for (const stream of joinOrderedOutputs(app)) {
    const ids: string[] = [];
    for await (const batch of world.store.readStream(stream, { batchSize: 4096 })) for (const e of batch) if (!e.type.startsWith('$')) ids.push(`${e.key}\u0000${e.seq}`);
    order.set(stream, ids);
  }
  return order;
}

/** One world from start to quiescence, with safety invariants checked at consistent points. */
export async function runWorld(app: AppDef, options: SimulateOptions, faults: FaultOptions, keepRows: boolean): Promise<RunOutcome> {
  const trace = new Trace(keepRows);
  const marks: Record<string, number> = {};
  // A commit row's actor and detail text, built once per token and per event type (one row per commit).
  const actors = new Map<number, string>();
  const tokenActor = (token: number | undefined): string => {
    if (token === undefined) return 'ingress';
    let actor = actors.get(token);
    if (actor === undefined) actors.set(token, (actor = `token ${token}`));
    return actor;
  };
  const details = new Map<string, string>();
  const commitDetail = (count: number, type: string): string => {
    if (count !== 1) return `${count} ${type}`;
    let detail = details.get(type);
    if (detail === undefined) details.set(type, (detail = `1 ${type}`));
    return detail;
  };
  const random = seededRandom(options.seed);
  let world!: World;
  world = new World({
    app,
    seed: options.seed,
    random,
    faults,
    workload: options.workload ?? {},
    version: 'sim',
    ...(options.store === undefined ? {} : { store: options.store }),
    onLog: (host, entry) => {
      const mark = MARKS[entry.kind];
      if (mark !== undefined) marks[mark] = (marks[mark] ?? 0) + 1;
      if (entry.level === 'debug' && entry.kind !== 'effect.suppressed' && entry.kind !== 'effect.performed') return;
      const effect = effectInput(entry.fields?.idempotencyKey);
      trace.addRow(world.scheduler.steps, world.scheduler.now, entry.kind, host, '', effect.key, 0, entry.message, effect.position);
    },
    onCommit: (c) => trace.addRow(c.step, c.simulatedMs, 'append', tokenActor(c.token), c.stream, c.key, c.firstPosition, commitDetail(c.events.length, c.events[0]?.type ?? ''), inputPosition(c.events[0]?.meta)),
  });
  // Faults injected during a step, as rows right after it (the world only counts them).
  let faultsTraced = 0;
  const traceFaults = () => {
    for (; faultsTraced < world.faultEvents.length; faultsTraced++) {
      const f = world.faultEvents[faultsTraced] as FaultEvent;
      trace.add({ step: f.step, simulatedMs: f.simulatedMs, kind: `fault.${f.kind}`, actor: 'faults', stream: '', key: '', position: 0, detail: f.detail });
    }
  };
  // Every step goes into the hash, whether or not rows are kept: --trace never changes the hash.
  world.scheduler.onStep = (timeMs, seq, label) => {
    if (world.faultEvents.length > faultsTraced) traceFaults();
    trace.addStep(seq, timeMs, label);
  };
  const violations: Violation[] = [];
  await world.init();
  const lastArrival = world.start();
  const limit = lastArrival + (options.quiesceMs ?? 600_000);
  let quiesced = false;
  let lastSafetyCheck = -Infinity;
  const safety = app.invariants.filter((i) => i.kind === 'safety');
  while (world.scheduler.now < limit) {
    await world.scheduler.run(world.scheduler.now + 100);
    world.supervise();
    if (world.bug !== undefined) {
      violations.push({ invariant: 'no process stops on a bug', step: world.scheduler.steps, simulatedMs: world.scheduler.now, message: `process ${world.bug.process} stopped: ${world.bug.error instanceof Error ? world.bug.error.message : String(world.bug.error)}` });
      break;
    }
    if (world.storeFailure !== undefined) {
      violations.push({ invariant: 'no acknowledged append lost', step: world.scheduler.steps, simulatedMs: world.scheduler.now, message: `the embedded store did not reopen after a power cut: ${world.storeFailure instanceof Error ? world.storeFailure.message : String(world.storeFailure)}` });
      break;
    }
    if (world.driver.failure !== undefined) {
      violations.push({ invariant: 'no acknowledged append lost', step: world.scheduler.steps, simulatedMs: world.scheduler.now, message: `the workload's append failed: ${String(world.driver.failure)}` });
      break;
    }
    if (safety.length > 0 && world.scheduler.now - lastSafetyCheck >= 1000 && world.allIdle()) {
      lastSafetyCheck = world.scheduler.now;
      const view = world.liveView();
      for (const inv of safety) {
        const message = world.asActor(`invariant '${inv.name}'`, () => inv.check(view));
        if (message !== undefined) violations.push({ invariant: inv.name, step: world.scheduler.steps, simulatedMs: world.scheduler.now, message });
      }
      if (violations.length > 0) break;
    }
    if (world.scheduler.now > lastArrival && (await world.quiescent())) {
      quiesced = true;
      break;
    }
  }
  if (violations.length === 0 && !quiesced) {
    const stuck = world.runnerStatuses().filter((h) => h.status !== undefined).map((h) => `${h.host}: ${h.status?.mode}, ${h.status?.eventsIn} in`).join('; ');
    violations.push({ invariant: 'liveness: the system quiesces after faults stop', step: world.scheduler.steps, simulatedMs: world.scheduler.now, message: `not quiescent ${Math.round((limit - lastArrival) / 1000)} s after the last input (${stuck}; workload ${world.driver.done ? 'done' : 'pending'})` });
  }
  traceFaults();
  return { world, trace, violations, quiesced, marks };
}

/** The input position a process output came from (its `meta.in` = [input index, position]); 0 if none. */
function inputPosition(meta: EventMeta | undefined): number {
  const input = meta?.in;
  return Array.isArray(input) && typeof input[1] === 'number' ? input[1] : 0;
}

/** An effect's shard key and input position, read from its idempotency key `process/key/stream@position/index`. */
function effectInput(idempotencyKey: unknown): { key: string; position: number } {
  // What /^[^/]*\/(.*)\/[^/]*@(\d+)\/\d+$/ matches, without the regex's backtracking (one per effect log line).
  const none = { key: '', position: 0 };
  if (typeof idempotencyKey !== 'string') return none;
  const s = idempotencyKey;
  const first = s.indexOf('/');
  const last = s.lastIndexOf('/');
  const before = last > 0 ? s.lastIndexOf('/', last - 1) : -1;
  if (first < 0 || before <= first || !digitsOnly(s, last + 1, s.length)) return none;
  const at = s.lastIndexOf('@', last - 1);
  if (at <= before || !digitsOnly(s, at + 1, last)) return none;
  return { key: s.slice(first + 1, before), position: Number(s.slice(at + 1, last)) };
}

/** Runtime log kinds that mark a path of interest, and the names fuzzing reports them under. */
export const MARKS: Readonly<Record<string, string>> = {
  'runner.started': 'runner started or restarted',
  'runner.fault': 'runner restarted after a store fault',
  'runner.overdue': 'store faults became overdue',
  'runner.fenced': 'lease lost (fenced)',
  'lease.waiting': 'standby waited for a lease',
  'snapshot.restored': 'snapshot restored',
  'snapshot.ignored': 'snapshot of another version ignored',
  'effect.suppressed': 'effect suppressed in catch-up',
  'gateway.overdue': 'gateway retry became overdue',
  'gateway.recovered': 'overdue gateway recovered',
};

/** The oracles that compare the faulty run with the fault-free one, and the liveness invariants. */
async function compareRuns(app: AppDef, faulty: World, reference: ReferenceRun, end: { step: number; simulatedMs: number }): Promise<Violation[]> {
  const violations: Violation[] = [];
  const outputs = new Map(app.processes.map((p) => [p.output.name, p.name]));
  violations.push(...checkSingleWriter(faulty.commits, new Set(outputs.keys())));
  violations.push(...(await checkAckedInputs(faulty.driver.acked, faulty.store, end)));
  const stateViolations: Violation[] = [];
  // Every stream read once, for all the oracles below.
  const streams = await readStreamsFully(faulty.store, [...app.streams.map((s) => s.name), ...app.processes.flatMap((p) => p.inputs.map((i) => i.stream.name))]);
  const f = reflections(app, streams, end);
  const expectedReflections: Reflections = new Map();
  const finalStates = new Map<string, Map<string, unknown>>();
  const expectedEffects = new Map<string, ExpectedEffect>();
  for (const p of app.processes) {
    // The app's own handlers, not the world's guarded ones: the determinism guard is uninstalled by
    // now (any ambient call was caught in the faulty run), so the wrapper that names the actor for
    // its message would only cost a try/finally per call.
    const folded = foldProcessOver(p, streams);
    expectedReflections.set(p.name, folded.reflected);
    for (const [k, e] of folded.effects) expectedEffects.set(k, e);
    const got = folded.states;
    const want = reference.states.get(p.name) ?? new Map<string, unknown>();
    finalStates.set(p.name, got);
    for (const key of [...new Set([...got.keys(), ...want.keys()])].sort()) {
      const gotState = got.get(key) ?? p.initial(key);
      const wantState = want.get(key) ?? p.initial(key);
      if (sameJson(gotState, wantState)) continue;
      const a = canonical(gotState);
      const b = canonical(wantState);
      if (a !== b) {
        stateViolations.push({ invariant: 'final state equals the fault-free run', ...end, message: `process ${p.name}, shard ${key}: ${a.slice(0, 200)} but the fault-free run ended with ${b.slice(0, 200)}` });
        break;
      }
    }
  }
  const view = {
    state: (process: { name: string; initial: (k: string) => unknown }, key: string) => (finalStates.get(process.name)?.get(key) ?? process.initial(key)) as never,
    keys: (process: { name: string }) => [...(finalStates.get(process.name)?.keys() ?? [])].sort(),
  };
  // A lost or repeated input is the more precise diagnosis of a state that differs: it goes first.
  violations.push(...f.violations, ...compareReflections(f.reflected, expectedReflections, end, (id) => inputName(id, streams.values())), ...stateViolations);
  violations.push(...checkEffects(faulty.outside.performed, expectedEffects, faulty.commits, outputs, faulty.tokens, end));
  for (const inv of app.invariants) {
    const message = inv.check(view);
    if (message !== undefined) violations.push({ invariant: inv.name, ...end, message: `${message} (${inv.kind}, at the end)` });
  }
  return violations;
}

function determinismViolation(e: DeterminismViolationError, world: World): Violation {
  return { invariant: 'determinism', step: world.scheduler.steps, simulatedMs: world.scheduler.now, message: e.message };
}

/** The one command that reproduces this run. */
export function reproCommand(options: SimulateOptions): string {
  const parts = ['npx spive simulate', options.appSpec ?? '<app>', `--seed ${options.seed}`];
  const f = options.faults ?? 'default';
  parts.push(`--faults ${typeof f === 'string' ? f : `'${JSON.stringify(f)}'`}`);
  if (options.workload !== undefined && Object.keys(options.workload).length > 0) parts.push(`--workload '${JSON.stringify(options.workload)}'`);
  if (options.store === 'embedded') parts.push('--store embedded');
  return parts.join(' ');
}
