/**
 * `runReplay`: executes a replay job on a store. The changed process first — its planned shard
 * tasks, into `<output>--<toVersion>` — then each downstream process in graph order, for the shards
 * its inputs actually changed in (lineage re-derived from what the replay wrote: the base events a
 * rebuilt shard dropped and the new ones it added, routed through the downstream's key functions),
 * reading the upstream's new version through its version view. Effects are never performed.
 */
import type { AppDef, ProcessDef } from '../app/define.ts';
import { InvalidInputError } from '../model/errors.ts';
import type { EventStore } from '../store/event-store.ts';
import type { Clock } from '../time/clock.ts';
import { storedInput, type InputSequence } from './input.ts';
import { versionedStreamName } from './naming.ts';
import { columnarFoldBlocker } from './columnar-fold.ts';
import { replayProcess, type ColumnarInput, type ProcessOutcome } from './process-replay.ts';
import { DEFAULT_ROUTE_POLICY, ShardInputs, type RoutePolicy } from './shard-inputs.ts';
import { keysOf } from './shard-run.ts';
import type { ReplayJob, ReplayProgress, ReplayResult, ShardJob, SuppressedEffect, VerifyReport } from './types.ts';
import type { TaskClaims } from './task-claims.ts';
import { verifyUnaffected } from './verify.ts';
import { ScanBuffers } from '../store/scan-buffers.ts';
import { ReplayWorkers } from './worker-pool.ts';
import { versionView, type VersionView } from './view.ts';

export interface ReplayOptions {
  readonly store: EventStore;
  readonly app: AppDef;
  /** Version of processes without an explicit tag (the app's source hash). */
  readonly appVersion: string;
  readonly job: ReplayJob;
  readonly clock: Clock;
  /** Keep every suppressed effect in the result (else they are only counted). */
  readonly listEffects?: boolean;
  /** Compare up to this many shards outside the affected set with the old output (false: no). */
  readonly verify?: number | false;
  /** Shards in flight at once per process. */
  readonly concurrency?: number;
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Fold typed columns where a process allows it (columnar-fold.ts); default true. */
  readonly columnar?: boolean;
  /** Guard the columnar views against undeclared reads (column-view.ts); default: when verifying. */
  readonly checkReads?: boolean;
  /**
   * Worker threads that run the handlers (worker-pool.ts); 1 (default): this thread runs them. More
   * than one needs `appFile`, which each worker loads (handlers cannot be sent to a thread).
   */
  readonly workers?: number;
  /** The app's module file (as loadApp resolved it), for the workers. */
  readonly appFile?: string;
  /** When inputs and base streams are scanned once instead of read per shard (shard-inputs.ts); false: always per shard. */
  readonly route?: RoutePolicy | false;
  /**
   * Shard tasks shared with other replay processes (task-claims.ts): this one runs the batches it
   * claims. Every process runs every phase in order, so downstream follows once upstream is done.
   */
  readonly claims?: TaskClaims;
  /** With claims: tasks per claimed batch (default: an eighth of the phase, at least 1). */
  readonly claimBatch?: number;
}

/**
 * Runs a phase's tasks: all at once, or (with claims) in claimed batches until none is left, merging
 * the batches' outcomes. The phase is finished everywhere when claim returns nothing.
 */
async function claimed(claims: TaskClaims | undefined, batch: number | undefined, phase: string, tasks: readonly ShardJob[], run: (tasks: readonly ShardJob[]) => Promise<ProcessOutcome>): Promise<ProcessOutcome> {
  if (claims === undefined) return run(tasks);
  const byKey = new Map(tasks.map((t) => [t.key, t]));
  await claims.offer(phase, [...byKey.keys()]);
  const size = batch ?? Math.max(1, Math.ceil(tasks.length / 8));
  let merged: ProcessOutcome | undefined;
  for (;;) {
    const keys = await claims.claim(phase, size);
    if (keys.length === 0) break;
    const outcome = await run(keys.map((k) => byKey.get(k) as ShardJob));
    await claims.done(phase, keys);
    merged = merged === undefined ? outcome : mergeOutcomes(merged, outcome);
  }
  return merged ?? (await run([]));
}

function mergeOutcomes(a: ProcessOutcome, b: ProcessOutcome): ProcessOutcome {
  const r = a.report;
  const s = b.report;
  return {
    report: {
      ...r,
      shards: r.shards + s.shards,
      resumedShards: r.resumedShards + s.resumedShards,
      eventsRead: r.eventsRead + s.eventsRead,
      columnarShards: r.columnarShards + s.columnarShards,
      eventsWritten: r.eventsWritten + s.eventsWritten,
      eventsShared: r.eventsShared + s.eventsShared,
      wallMs: r.wallMs + s.wallMs,
    },
    effects: [...a.effects, ...b.effects],
    suppressed: a.suppressed + b.suppressed,
    estimatedCpuMsRun: a.estimatedCpuMsRun + b.estimatedCpuMsRun,
  };
}

/** What the changed process's run measured, for the analyzer's calibration. */
export interface MeasuredCost {
  readonly process: string;
  readonly version: string;
  /** The planner's CPU estimate of the shards that actually ran (not found complete). */
  readonly estimatedCpuMs: number;
  /** Wall time of the changed process: reading and numbering its inputs, its shards, their writes. */
  readonly actualMs: number;
  readonly events: number;
}

export interface ReplayRun extends ReplayResult {
  readonly measured: MeasuredCost | null;
}

// biome-ignore lint/suspicious/noExplicitAny: processes of any state and output
type AnyProcess = ProcessDef<any, any>;

export function processVersion(p: AnyProcess, appVersion: string): string {
  return p.version ?? appVersion;
}

export async function runReplay(o: ReplayOptions): Promise<ReplayRun> {
  const count = o.workers ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new InvalidInputError('workers', 'a whole number of worker threads, at least 1', count);
  if (count === 1) return replayOn(o, undefined);
  if (o.appFile === undefined) throw new InvalidInputError('appFile', `the app's module file, which each of the ${count} worker threads loads`, o.appFile);
  const workers = await ReplayWorkers.start(count, o.appFile);
  try {
    return await replayOn(o, workers);
  } finally {
    await workers.close();
  }
}

async function replayOn(o: ReplayOptions, workers: ReplayWorkers | undefined): Promise<ReplayRun> {
  const { store, app, job, clock } = o;
  const started = clock.monotonicMs();
  const find = (name: string, field: string): ProcessDef<unknown> => {
    const p = app.processes.find((q) => q.name === name);
    if (p === undefined) throw new InvalidInputError(field, `a process of app ${app.name} (${app.processes.map((q) => q.name).join(', ')})`, name);
    return p as ProcessDef<unknown>;
  };
  const p = find(job.process, 'process');
  const version = processVersion(p, o.appVersion);
  if (version !== job.toVersion) {
    throw new InvalidInputError('change.toVersion', `the app's current version of ${p.name} (${version}): the app changed since the plan was made; plan again`, job.toVersion);
  }
  const downstream = job.downstream.map((name, i) => find(name, `downstream[${i}].process`));
  // The fold's scans (one at a time: claimed batches run in turn) reuse one set of buffers.
  const scanBuffers = workers?.scanBuffers ?? new ScanBuffers(false);

  let eventsTotal = job.tasks.reduce((n, t) => n + (t.estimatedEvents ?? 0), 0);
  let shardsTotal = job.tasks.length;
  let eventsDone = 0;
  let shardsDone = 0;
  let current = p.name;
  const report = () =>
    o.onProgress?.({ process: current, eventsDone, eventsTotal: Math.max(eventsTotal, eventsDone), shardsDone, shardsTotal, elapsedMs: clock.monotonicMs() - started });
  const onEvents = (n: number) => {
    eventsDone += n;
    report();
  };
  const onShard = (_: ShardJob) => {
    shardsDone++;
    report();
  };

  // ---- the changed process
  const route = o.route === false ? undefined : (o.route ?? DEFAULT_ROUTE_POLICY);
  const folds = o.columnar !== false && columnarFoldBlocker(p) === null;
  // The changed process's measured time starts here: reading its inputs' columns and routing them are
  // part of what the planner estimates for it (analyzer/strategies.ts withReads), so they are part of
  // what calibrates it.
  const firstStarted = clock.monotonicMs();
  const sequences = await Promise.all(p.inputs.map((i) => storedInput(store, i.stream.name)));
  const outcomes: ProcessOutcome[] = [];
  // What every process's replay shares: the store, the generation, reporting, and how to run and read.
  const shared = {
    store,
    generation: job.toVersion,
    clock,
    listEffects: o.listEffects === true,
    onEvents,
    onShard,
    ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
    ...(workers === undefined ? {} : { workers }),
    ...(route === undefined ? {} : { route }),
  };
  let inputs: ShardInputs | undefined;
  const first = await claimed(o.claims, o.claimBatch, p.name, job.tasks, async (tasks) => {
    // The fold reads columns; only its fallbacks read events, per shard.
    inputs = await ShardInputs.open(p, sequences, new Set(tasks.map((t) => t.key)), folds ? undefined : route);
    // Only the changed process reads a stream as stored; downstream ones read version views.
    const columnar: ColumnarInput | undefined = folds
      ? {
          batches: store.scanColumns((sequences[0] as InputSequence).stream, { fields: p.reads ?? [], buffers: scanBuffers }),
          m: inputs.numbering.m[0] as Float64Array,
          limit: (sequences[0] as InputSequence).length,
          check: o.checkReads ?? (o.verify !== undefined && o.verify !== false),
        }
      : undefined;
    return replayProcess({ ...shared, process: p, version, fromVersion: job.fromVersion, inputs, tasks, inputsAsStored: true, ...(columnar === undefined ? {} : { columnar }) });
  });
  const firstMs = clock.monotonicMs() - firstStarted;
  outcomes.push(first);
  let verify: VerifyReport | null = null;
  if (o.verify !== undefined && o.verify !== false && inputs !== undefined) {
    verify = await verifyUnaffected({ store, process: p, version, inputs, sequences, affected: new Set(job.tasks.map((t) => t.key)), sample: o.verify });
  }

  // ---- downstream, by lineage, each reading its upstreams' new versions
  const views = new Map<string, VersionView>();
  const viewOf = async (stream: string): Promise<VersionView> => {
    let v = views.get(stream);
    if (v === undefined) {
      v = await versionView(store, stream, job.toVersion);
      views.set(stream, v);
    }
    return v;
  };
  const rebuilt = new Set<string>([p.output.name]);
  for (const d of downstream) {
    current = d.name;
    const seqs: InputSequence[] = [];
    const keys = new Set<string>();
    for (let i = 0; i < d.inputs.length; i++) {
      const name = (d.inputs[i] as { stream: { name: string } }).stream.name;
      if (!rebuilt.has(name)) {
        seqs.push(await storedInput(store, name));
        continue;
      }
      const view = await viewOf(name);
      seqs.push(view.input);
      if (d.inputs[i]?.key === undefined) {
        for (const k of view.changedKeys) if (!k.startsWith('$')) keys.add(k);
        continue;
      }
      for (const e of [...view.removed, ...view.added]) {
        if (e.type.startsWith('$') || d.handlers[i]?.[e.type] === undefined) continue;
        for (const k of keysOf(d, i, e)) keys.add(k);
      }
    }
    const tasks: ShardJob[] = [...keys].sort().map((key) => ({ key, mode: 'scratch' }));
    shardsTotal += tasks.length;
    for (const t of tasks) for (let i = 0; i < seqs.length; i++) if (d.inputs[i]?.key === undefined) eventsTotal += (seqs[i] as InputSequence).keyIndexes(t.key).length;
    report();
    outcomes.push(
      await claimed(o.claims, o.claimBatch, d.name, tasks, async (batch) =>
        replayProcess({
          ...shared,
          process: d,
          version: processVersion(d, o.appVersion),
          fromVersion: null,
          inputs: await ShardInputs.open(d, seqs, new Set(batch.map((t) => t.key)), route),
          tasks: batch,
        }),
      ),
    );
    rebuilt.add(d.output.name);
  }

  const processes = outcomes.map((x) => x.report);
  const effects: SuppressedEffect[] = outcomes.flatMap((x) => x.effects);
  const firstReport = first.report;
  return {
    strategy: job.strategy,
    processes,
    eventsRead: processes.reduce((n, r) => n + r.eventsRead, 0),
    eventsWritten: processes.reduce((n, r) => n + r.eventsWritten, 0),
    shards: processes.reduce((n, r) => n + r.shards, 0),
    resumedShards: processes.reduce((n, r) => n + r.resumedShards, 0),
    outputStream: versionedStreamName(p.output.name, job.toVersion),
    suppressedEffects: outcomes.reduce((n, x) => n + x.suppressed, 0),
    effects,
    verify,
    wallMs: Math.round(clock.monotonicMs() - started),
    measured:
      first.estimatedCpuMsRun > 0 && firstReport.eventsRead > 0
        ? { process: p.name, version, estimatedCpuMs: first.estimatedCpuMsRun, actualMs: firstMs, events: firstReport.eventsRead }
        : null,
  };
}
