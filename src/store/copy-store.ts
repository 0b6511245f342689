/**
 * Copies a whole store into an empty one of any kind (`spive store copy`): every event in global
 * order, then every snapshot. Runs of consecutive events of one shard go in one append, so on an
 * empty target every event gets the same seq and the same global position as in the source (the
 * copy checks it): outputs' input references (`meta.in`), snapshots' positions and the analyzer's
 * statistics all stay valid. Leases are not copied (they belong to running processes).
 */
import { InvalidInputError } from '../model/errors.ts';
import type { NewEvent, StoredEvent } from '../model/event.ts';
import type { Clock } from '../time/clock.ts';
import type { AppendResult, EventStore } from './event-store.ts';

/** A store that can commit many appends at once (PostgreSQL): the copy then commits per group, not per append. */
interface AppendsInOneTransaction {
  appendAll(batches: ReadonlyArray<{ stream: string; key: string; events: readonly NewEvent<unknown>[] }>): Promise<AppendResult[]>;
}

function canAppendAll(store: EventStore): store is EventStore & AppendsInOneTransaction {
  return typeof (store as Partial<AppendsInOneTransaction>).appendAll === 'function';
}

/** Snapshots copied concurrently (PostgreSQL's default pool holds 8 connections). */
const SNAPSHOTS_IN_FLIGHT = 8;

/** Events per transaction when the target commits many appends at once. */
const EVENTS_PER_TRANSACTION = 5000;

export interface CopyReport {
  readonly events: number;
  readonly appends: number;
  readonly streams: number;
  readonly snapshots: number;
  readonly wallMs: number;
}

export interface CopyOptions {
  readonly clock: Clock;
  /** Called every few thousand events with how many are copied. */
  readonly onProgress?: (events: number, total: number) => void;
  /** The most events one append carries (default 1000). */
  readonly maxBatch?: number;
}

export async function copyStore(from: EventStore, to: EventStore, options: CopyOptions): Promise<CopyReport> {
  const started = options.clock.monotonicMs();
  const target = await to.stats();
  if (target.events > 0 || target.snapshots > 0) {
    throw new InvalidInputError('<to>', `an empty store (the copy keeps every global position, so it must start at 1); it holds ${target.events} events and ${target.snapshots} snapshots`, to.location);
  }
  const total = (await from.stats()).events;
  const maxBatch = options.maxBatch ?? 1000;
  let run: StoredEvent[] = [];
  /** Runs waiting for one transaction (targets that have them), and their events. */
  let pending: StoredEvent[][] = [];
  let pendingEvents = 0;
  let events = 0;
  let appends = 0;
  const check = (first: StoredEvent, result: AppendResult) => {
    if (result.firstPosition !== first.position || result.firstSeq !== first.seq) {
      // Only a source with gaps in its positions (or a target written meanwhile) gets here.
      throw new InvalidInputError('<to>', `a copy at the same positions: ${first.stream}/${first.key}#${first.seq} at position ${first.position}`, `#${result.firstSeq} at position ${result.firstPosition} (was the target written to during the copy?)`);
    }
  };
  const commit = async () => {
    if (pending.length === 0 || !canAppendAll(to)) return;
    const results = await to.appendAll(pending.map((r) => ({ stream: (r[0] as StoredEvent).stream, key: (r[0] as StoredEvent).key, events: r.map(newEvent) })));
    pending.forEach((r, i) => check(r[0] as StoredEvent, results[i] as AppendResult));
    events += pendingEvents;
    appends += pending.length;
    pending = [];
    pendingEvents = 0;
    options.onProgress?.(events, total);
  };
  const flush = async () => {
    const first = run[0];
    if (first === undefined) return;
    if (canAppendAll(to)) {
      pending.push(run);
      pendingEvents += run.length;
      run = [];
      if (pendingEvents >= EVENTS_PER_TRANSACTION) await commit();
      return;
    }
    check(first, await to.append(first.stream, first.key, run.map(newEvent)));
    events += run.length;
    appends++;
    run = [];
    if (appends % 100 === 0) options.onProgress?.(events, total);
  };
  for await (const batch of from.readAll({ batchSize: 8192 })) {
    for (const e of batch) {
      const last = run[run.length - 1];
      if (last !== undefined && (last.stream !== e.stream || last.key !== e.key || run.length >= maxBatch)) await flush();
      run.push(e);
    }
  }
  await flush();
  await commit();
  let snapshots = 0;
  const infos = await from.listSnapshots();
  // Snapshots are independent of each other: several in flight, so a store that commits each one
  // (PostgreSQL) overlaps their commits instead of waiting for one at a time.
  for (let i = 0; i < infos.length; i += SNAPSHOTS_IN_FLIGHT) {
    const copied = await Promise.all(
      infos.slice(i, i + SNAPSHOTS_IN_FLIGHT).map(async (info) => {
        const snapshot = await from.getSnapshot({ process: info.process, version: info.version, shard: info.shard, atOrBefore: info.position });
        if (snapshot === undefined || snapshot.position !== info.position) return 0; // listed, then gone: nothing to copy
        const { sizeBytes: _size, ...rest } = snapshot;
        await to.putSnapshot(rest);
        return 1;
      }),
    );
    snapshots += copied.reduce<number>((n, c) => n + c, 0);
  }
  const streams = (await to.stats()).streams.length;
  return { events, appends, streams, snapshots, wallMs: Math.round(options.clock.monotonicMs() - started) };
}

function newEvent(e: StoredEvent): NewEvent<unknown> {
  return e.meta === undefined ? { type: e.type, time: e.time, data: e.data } : { type: e.type, time: e.time, data: e.data, meta: e.meta };
}
