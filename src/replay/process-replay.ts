/**
 * Rebuilds the given shards of one process into its versioned output stream: per shard, restore
 * the snapshot (ray) or the initial state (scratch), take the shard's inputs after it in merged
 * order, run the new version's handlers, and write what differs from the base (shard-write.ts).
 * Shards run a few at a time so that their appends share fsyncs (the store's group commit); each
 * shard's output is a function of its inputs alone, so the order they finish in does not matter.
 */
import type { ProcessDef } from '../app/define.ts';
import { InvalidInputError } from '../model/errors.ts';
import type { StoredEvent } from '../model/event.ts';
import type { EventStore } from '../store/event-store.ts';
import type { Clock } from '../time/clock.ts';
import { readFork } from './fork.ts';
import { versionedStreamName } from './naming.ts';
import type { ShardInputs } from './shard-inputs.ts';
import { runShard } from './shard-run.ts';
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
}

export interface ProcessOutcome {
  readonly report: ProcessReport;
  readonly effects: SuppressedEffect[];
  readonly suppressed: number;
  /** Estimated CPU of the shards actually run (not skipped as complete), for calibration. */
  readonly estimatedCpuMsRun: number;
}

const decoder = new TextDecoder();

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

  const one = async (job: ShardJob): Promise<void> => {
    const existing = await readFork(store, stream, job.key);
    if (existing?.complete === true) {
      // Done by an earlier run: nothing to compute.
      resumed++;
      shared += existing.fork.baseSeq;
      o.onEvents(job.estimatedEvents ?? 0);
      o.onShard(job);
      return;
    }
    estimatedCpuMsRun += job.estimatedCpuMs ?? 0;
    let state: unknown = p.initial(job.key);
    let afterM = 0;
    if (job.mode === 'ray') {
      const snap = job.snapshot;
      if (snap === undefined) throw new InvalidInputError(`task ${job.key}.snapshot`, 'a snapshot {version, position} for a ray task');
      const found = await store.getSnapshot({ process: p.name, version: snap.version, shard: job.key, atOrBefore: snap.position });
      if (found === undefined || found.position !== snap.position) {
        throw new InvalidInputError(`task ${job.key}.snapshot`, `a snapshot of ${p.name}@${snap.version} for shard ${job.key} at input #${snap.position} in the store`, found === undefined ? 'none' : `one at #${found.position}`);
      }
      state = (JSON.parse(decoder.decode(found.data)) as { state: unknown }).state;
      afterM = snap.position;
    }
    const inputs = await o.inputs.forShard(job.key, afterM);
    const run = runShard(p, o.version, job.key, state, inputs, o.onEvents);
    const baseEvents: StoredEvent[] = [];
    for await (const batch of store.readShard(base, job.key, { batchSize: 4096 })) baseEvents.push(...batch);
    let prefix = 0;
    if (job.mode === 'ray') {
      while (prefix < baseEvents.length && (((baseEvents[prefix] as StoredEvent).meta?.m as number | undefined) ?? 0) <= afterM) prefix++;
    }
    const point = forkPoint(baseEvents, prefix, run.outputs);
    const last = baseEvents[baseEvents.length - 1];
    const fromVersion = typeof last?.meta?.v === 'string' ? last.meta.v : o.fromVersion;
    const forkTime = point.events[0]?.time ?? (point.baseSeq > 0 ? (baseEvents[point.baseSeq - 1] as StoredEvent).time : (inputs[0]?.event.time ?? 0));
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
      for (const e of run.effects) effects.push({ process: p.name, key: job.key, gateway: e.gateway, request: e.request, idempotencyKey: e.idempotencyKey, changed: e.outputIndex >= point.lcp });
    }
    o.onShard(job);
  };

  await pool(o.tasks, o.concurrency ?? 8, one);
  return {
    report: {
      process: p.name,
      version: o.version,
      outputStream: stream,
      baseStream: base,
      shards: o.tasks.length,
      resumedShards: resumed,
      eventsRead: o.inputs.eventsRead,
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
