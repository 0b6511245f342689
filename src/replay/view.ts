/**
 * The new version of a whole output stream, as a downstream process reads it: the base stream with
 * each rebuilt shard's suffix (after its fork point) replaced by that shard's new events.
 *
 * Order: the view is ordered by the producing process's merged input number `meta.m` — the order a
 * single runner appends its outputs in — so a downstream replay sees its input in the order a live
 * run of the new version would have written it. Ties (one input event whose outputs went to several
 * shards) keep base events first, in base order, then new events in the order they were written.
 * `$idle` events are left out (they only move watermarks of a live run); the downstream merged
 * numbering counts the view's app events only, as it always does. An event's `position` in the view is its
 * ordinal in this order (1-based), so what a downstream replay writes does not depend on how the
 * upstream's shards were interleaved when they were written.
 *
 * The view is held in memory (decoded events): fine for the outputs of a replay, to be replaced by a
 * columnar view with the fast path.
 */
import type { StoredEvent } from '../model/event.ts';
import { IDLE_EVENT } from '../runtime/runner.ts';
import type { EventStore } from '../store/event-store.ts';
import { IncompleteShardError, parseFork } from './fork.ts';
import { groupByKey, type IndexedEvent, type InputSequence } from './input.ts';
import { FORK_EVENT, versionedStreamName } from './naming.ts';
import type { ForkRecord } from './types.ts';

export interface VersionView {
  readonly input: InputSequence;
  readonly forks: ReadonlyMap<string, ForkRecord>;
  /** Base events the new version no longer has (after each fork point). */
  readonly removed: readonly StoredEvent[];
  /** Events the new version has that the base does not (after each fork point). */
  readonly added: readonly StoredEvent[];
  /** Keys whose events differ from the base. */
  readonly changedKeys: ReadonlySet<string>;
}

export async function versionView(store: EventStore, output: string, version: string): Promise<VersionView> {
  const stream = versionedStreamName(output, version);
  const forks = new Map<string, ForkRecord>();
  const added: StoredEvent[] = [];
  const written = new Map<string, number>();
  for await (const batch of store.readStream(stream, { batchSize: 4096 })) {
    for (const e of batch) {
      if (e.seq === 1) {
        const fork = parseFork(e);
        if (fork === undefined) throw new IncompleteShardError(stream, e.key, 0, 0);
        forks.set(e.key, fork);
        continue;
      }
      if (e.type === FORK_EVENT) continue;
      const fork = forks.get(e.key) as ForkRecord;
      written.set(e.key, (written.get(e.key) ?? 0) + 1);
      added.push({ ...e, stream: output, seq: fork.baseSeq + e.seq - 1 });
    }
  }
  for (const [key, fork] of forks) {
    const n = written.get(key) ?? 0;
    if (n < fork.count) throw new IncompleteShardError(stream, key, n, fork.count);
  }
  const kept: StoredEvent[] = [];
  const removed: StoredEvent[] = [];
  for await (const batch of store.readStream(output, { batchSize: 4096 })) {
    for (const e of batch) {
      if (e.type === IDLE_EVENT) continue;
      const fork = forks.get(e.key);
      if (fork === undefined || e.seq <= fork.baseSeq) kept.push(e);
      else removed.push(e);
    }
  }
  const changedKeys = new Set<string>([...removed.map((e) => e.key), ...added.map((e) => e.key)]);
  // Stable sort by m: base events keep their order among themselves, new events follow base ones of the same m.
  const all = [...kept, ...added];
  const ms = new Float64Array(all.length);
  let last = 0;
  all.forEach((e, i) => {
    const m = e.meta?.m;
    if (typeof m === 'number') last = m;
    ms[i] = typeof m === 'number' ? m : i < kept.length ? last : Number.POSITIVE_INFINITY;
  });
  const base = kept.length;
  const order = Array.from(all.keys()).sort((a, b) => {
    const d = (ms[a] as number) - (ms[b] as number);
    if (d !== 0) return d;
    if (a < base || b < base) return a - b; // base first, in base order
    const ea = all[a] as StoredEvent;
    const eb = all[b] as StoredEvent;
    return ea.key < eb.key ? -1 : ea.key > eb.key ? 1 : ea.seq - eb.seq; // not the order they were written in: that varies
  });
  // Each event's position in the view is its ordinal: deterministic, unlike the positions the new
  // events got in their stream (shards are written concurrently). Handlers, `meta.in` and effect
  // idempotency keys of downstream replays see this.
  const events = order.map((i, n) => ({ ...(all[i] as StoredEvent), position: n + 1 }));
  return { input: memoryInput(output, events), forks, removed, added, changedKeys };
}

/** An input sequence over events held in memory, in the given order. */
export function memoryInput(stream: string, events: readonly StoredEvent[]): InputSequence {
  const times = new Float64Array(events.length);
  const platform = Uint8Array.from(events, (e) => (e.type.startsWith('$') ? 1 : 0));
  const keyIds = new Map<string, number>();
  const keyNames: string[] = [];
  const keyOf = new Int32Array(events.length);
  events.forEach((e, i) => {
    times[i] = e.time;
    let id = keyIds.get(e.key);
    if (id === undefined) {
      id = keyNames.push(e.key) - 1;
      keyIds.set(e.key, id);
    }
    keyOf[i] = id;
  });
  const grouped = groupByKey(keyOf, keyNames.length);
  const indexesOf = (key: string): Int32Array => {
    const id = keyIds.get(key);
    return id === undefined ? new Int32Array(0) : grouped.order.subarray(grouped.offsets[id], grouped.offsets[id + 1]);
  };
  return {
    stream,
    length: events.length,
    times,
    platform,
    keys: () => keyNames,
    keyIndexes: indexesOf,
    async *keyEvents(key: string, from = 0): AsyncIterable<IndexedEvent> {
      const indexes = indexesOf(key);
      for (let j = from; j < indexes.length; j++) yield { index: indexes[j] as number, event: events[indexes[j] as number] as StoredEvent };
    },
    async *all(): AsyncIterable<IndexedEvent> {
      for (let i = 0; i < events.length; i++) yield { index: i, event: events[i] as StoredEvent };
    },
  };
}
