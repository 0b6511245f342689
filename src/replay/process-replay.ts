/**
 * Rebuilds the given shards of one process into its versioned output stream: per shard, restore
 * the snapshot (ray) or the initial state (scratch), take the shard's inputs after it in merged
 * order, run the new version's handlers, and write what differs from the base (shard-write.ts).
 * Shards run a few at a time so that their appends share fsyncs (the store's group commit); each
 * shard's output is a function of its inputs alone, so the order they finish in does not matter.
 */
import type { ProcessDef } from '../app/define.ts';
import type { EventMeta, StoredEvent } from '../model/event.ts';
import { canonical } from '../util/json-equal.ts';
import type { ColumnBatch, EventStore } from '../store/event-store.ts';
import type { Clock } from '../time/clock.ts';
import { readFork } from './fork.ts';
import { versionedStreamName } from './naming.ts';
import type { ShardInputs } from './shard-inputs.ts';
import { foldColumns, type FoldResult, type FoldStart } from './columnar-fold.ts';
import { runShard, type ShardRun } from './shard-run.ts';
import { BaseShards } from './base-shards.ts';
import type { RoutePolicy } from './shard-inputs.ts';
import { shardStart } from './shard-start.ts';
import type { ReplayWorkers } from './worker-pool.ts';
import { forkPoint, writeShard } from './shard-write.ts';
import type { ProcessReport, ShardJob, SuppressedEffect } from './types.ts';

export interface ProcessReplayOptions {
  readonly store: EventStore;
  readonly process: ProcessDef<unknown>;
  /** The version the handlers run as (tags outputs). */
  readonly version: string;
  /** The generation: names the versioned stream (the changed process's new version). */
  readonly generation: string;
  readonly fromVersion: string | null;
  readonly inputs: ShardInputs;
  readonly tasks: readonly ShardJob[];
  readonly clock: Clock;
  /** Shards in flight at once (default 8). */
  readonly concurrency?: number;
  readonly listEffects: boolean;
  readonly onEvents: (events: number) => void;
  readonly onShard: (job: ShardJob) => void;
  /** Fold the process's stored input's typed columns (columnar-fold.ts) instead of reading events. */
  readonly columnar?: ColumnarInput;
  /** Worker threads that run the handlers (worker-pool.ts); without them, this thread does. */
  readonly workers?: ReplayWorkers;
  /** When to scan the base stream once instead of reading it per shard (none: per shard). */
  readonly route?: RoutePolicy;
  /**
   * The inputs are read as stored (the changed process), so an output's `meta.in` names the same
   * input event in the base and in the new version: an effect is then "changed" only when its
   * input's outputs differ from the old version's. Otherwise (version views) every effect after the
   * fork counts as changed.
   */
  readonly inputsAsStored?: boolean;
}

/** The fast path's input: the stored input's columns (fields = the process's `reads`) and numbering. */
export interface ColumnarInput {
  readonly batches: AsyncIterable<ColumnBatch>;
  readonly m: Float64Array | null;
  readonly limit: number;
  readonly check: boolean;
}

export interface ProcessOutcome {
  readonly report: ProcessReport;
  readonly effects: SuppressedEffect[];
  readonly suppressed: number;
  /** Estimated CPU of the shards actually run (not skipped as complete), for calibration. */
  readonly estimatedCpuMsRun: number;
}

export async function replayProcess(o: ProcessReplayOptions): Promise<ProcessOutcome> {
  const { store, process: p } = o;
  const started = o.clock.monotonicMs();
  const base = p.output.name;
  const stream = versionedStreamName(base, o.generation);
  const effects: SuppressedEffect[] = [];
  let suppressed = 0;
  let written = 0;
  let shared = 0;
  let resumed = 0;
  let estimatedCpuMsRun = 0;
  let columnarShards = 0;

  // Each shard's new output as an earlier run left it, read once: while this call runs, nothing else
  // writes these shards (one writer; with shared tasks, one claimer per shard).
  const forks = new Map<string, Awaited<ReturnType<typeof readFork>>>();
  for (const job of o.tasks) forks.set(job.key, await readFork(store, stream, job.key));
  const complete = (key: string) => forks.get(key)?.complete === true;

  // The fast path: one columnar pass computes every shard not already complete (see columnar-fold.ts).
  let folded: FoldResult | undefined;
  if (o.columnar !== undefined) {
    const starts = new Map<string, FoldStart>();
    const weights = new Map<string, number>();
    for (const job of o.tasks) {
      if (complete(job.key)) continue;
      starts.set(job.key, await shardStart(store, p, job));
      weights.set(job.key, job.estimatedEvents ?? 1);
    }
    if (starts.size > 0) {
      folded =
        o.workers === undefined
          ? await foldColumns({ process: p, version: o.version, ...o.columnar, shards: starts, onEvents: o.onEvents })
          : await o.workers.fold({ process: p.name, version: o.version, ...o.columnar, shards: starts, weights, onEvents: o.onEvents });
    }
  }

  // The old output of the shards still to run (complete ones are skipped without reading it).
  const pendingKeys = new Set<string>();
  for (const job of o.tasks) if (!complete(job.key)) pendingKeys.add(job.key);
  const bases = await BaseShards.open(store, base, pendingKeys, o.route);

  const one = async (job: ShardJob): Promise<void> => {
    const existing = forks.get(job.key);
    if (existing?.complete === true) {
      // Done by an earlier run: nothing to compute.
      resumed++;
      shared += existing.fork.baseSeq;
      o.onEvents(job.estimatedEvents ?? 0);
      o.onShard(job);
      return;
    }
    estimatedCpuMsRun += job.estimatedCpuMs ?? 0;
    const afterM = job.mode === 'ray' ? (job.snapshot?.position ?? 0) : 0;
    let run: ShardRun;
    let firstInputTime: number | undefined;
    const done = folded?.shards.get(job.key);
    if (done !== undefined) {
      run = done;
      firstInputTime = done.firstTime;
      columnarShards++;
    } else {
      const start = await shardStart(store, p, job);
      const inputs = await o.inputs.forShard(job.key, start.afterM);
      if (o.workers === undefined) run = runShard(p, o.version, job.key, start.state, inputs, o.onEvents);
      else {
        run = await o.workers.runShard({ process: p.name, version: o.version }, job.key, start.state, inputs);
        o.onEvents(inputs.length);
      }
      firstInputTime = inputs[0]?.event.time;
    }
    const baseEvents = await bases.events(job.key);
    let prefix = 0;
    if (job.mode === 'ray') {
      while (prefix < baseEvents.length && (((baseEvents[prefix] as StoredEvent).meta?.m as number | undefined) ?? 0) <= afterM) prefix++;
    }
    const point = forkPoint(baseEvents, prefix, run.outputs);
    const last = baseEvents[baseEvents.length - 1];
    const fromVersion = typeof last?.meta?.v === 'string' ? last.meta.v : o.fromVersion;
    const forkTime = point.events[0]?.time ?? (point.baseSeq > 0 ? (baseEvents[point.baseSeq - 1] as StoredEvent).time : (firstInputTime ?? 0));
    const outcome = await writeShard(
      store,
      stream,
      job.key,
      { base, process: p.name, fromVersion, toVersion: o.version, mode: job.mode, snapshotM: job.mode === 'ray' ? afterM : null },
      point,
      { v: o.version },
      forkTime,
    );
    if (outcome.resumed) resumed++;
    written += outcome.written;
    shared += point.baseSeq;
    suppressed += run.effects.length;
    if (o.listEffects) {
      const changed = effectChanged(run, point.lcp, baseEvents.slice(point.baseSeq), o.inputsAsStored === true);
      for (const e of run.effects) effects.push({ process: p.name, key: job.key, gateway: e.gateway, request: e.request, idempotencyKey: e.idempotencyKey, changed: changed(e.outputIndex) });
    }
    o.onShard(job);
  };

  await pool(o.tasks, o.concurrency ?? 8, one);
  let foldedRead = 0;
  for (const s of folded?.shards.values() ?? []) foldedRead += s.eventsRead;
  return {
    report: {
      process: p.name,
      version: o.version,
      outputStream: stream,
      baseStream: base,
      shards: o.tasks.length,
      resumedShards: resumed,
      eventsRead: o.inputs.eventsRead + foldedRead,
      columnarShards,
      eventsWritten: written,
      eventsShared: shared,
      wallMs: Math.round(o.clock.monotonicMs() - started),
    },
    effects,
    suppressed,
    estimatedCpuMsRun,
  };
}

/** Runs `work` over `items`, at most `concurrency` at a time, in order; the first failure stops it. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/**
 * Whether the effect whose input's first output is `outputIndex` is new in this version: after the
 * fork (`lcp`), and — when `meta.in` is comparable — its input's outputs differ from what the old
 * version wrote for the same input after the fork (`removed`). A rejection that only moved (same
 * input, same output, but later in the shard) is then not reported as new.
 */
function effectChanged(run: ShardRun, lcp: number, removed: readonly StoredEvent[], comparable: boolean): (outputIndex: number) => boolean {
  if (!comparable) return (i) => i >= lcp;
  const inputOf = (meta: EventMeta | undefined): string => (Array.isArray(meta?.in) ? `${meta.in[0]}@${meta.in[1]}` : '');
  const old = new Map<string, string[]>();
  for (const e of removed) {
    const id = inputOf(e.meta);
    if (id !== '') (old.get(id) ?? old.set(id, []).get(id))?.push(canonical([e.type, e.data]));
  }
  return (i) => {
    if (i < lcp) return false;
    const id = inputOf(run.outputs[i]?.meta);
    const mine: string[] = [];
    for (let j = i; j < run.outputs.length && inputOf(run.outputs[j]?.meta) === id; j++) mine.push(canonical([run.outputs[j]?.type, run.outputs[j]?.data ?? null]));
    const theirs = old.get(id);
    return theirs === undefined || theirs.length !== mine.length || theirs.some((t, k) => t !== mine[k]);
  };
}
