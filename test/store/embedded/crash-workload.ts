/**
 * The workload and the checker shared by the crash tests (power loss on the simulated disk, SIGKILL of
 * a real child process). No vitest here: the child process imports this module too.
 *
 * Every batch is generated from (seed, run, index), so whoever checks a store can regenerate exactly
 * what any writer appended — acknowledged or not. Every event carries its batch id, its index in the
 * batch and the batch size, so a partial, duplicated or misplaced batch is visible in the data itself.
 */
import { createHash } from 'node:crypto';
import { seededRandom, type EventStore, type JsonValue, type NewEvent, type StoredEvent } from 'spive';
import { collect } from '../../helpers/async.ts';

export const STREAMS = ['orders', 'payments'] as const;
export const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'] as const;
export const T0 = 1_700_000_000_000;

export interface BatchSpec {
  readonly id: string;
  readonly stream: string;
  readonly key: string;
  readonly events: readonly NewEvent[];
  /** Submission order among all batches of all runs of one store (run-major). */
  readonly order: number;
}

/** Where the store said an acknowledged batch went. */
export interface Placement {
  readonly firstSeq: number;
  readonly firstPosition: number;
}

const RUN_STRIDE = 1_000_000;

export function batchId(run: number, index: number): string {
  return `r${run}.${index}`;
}

export function parseBatchId(id: string): { run: number; index: number } | undefined {
  const m = /^r(\d+)\.(\d+)$/.exec(id);
  return m === null ? undefined : { run: Number(m[1]), index: Number(m[2]) };
}

/**
 * Batch `index` of run `run` of a writer seeded `seed`. Mostly small batches (1..8 events); one in ten
 * is big (20..60 events with padding, several KiB) so that small segments fill and rotate.
 */
export function makeBatch(seed: number, run: number, index: number, stream?: string): BatchSpec {
  const rng = seededRandom(seed).stream(`batch/${run}/${index}`);
  const id = batchId(run, index);
  const big = rng.chance(0.1);
  const n = big ? rng.int(20, 60) : rng.int(1, 8);
  const padLength = big ? rng.int(20, 100) : rng.int(0, 40);
  const base = T0 + run * RUN_STRIDE + index * 100;
  const events: NewEvent[] = [];
  for (let i = 0; i < n; i++) {
    const data: { [k: string]: JsonValue } = { b: id, i, n, v: rng.int(-1000, 1000), pad: 'x'.repeat(padLength) };
    events.push({ type: rng.pick(['Placed', 'Paid', 'Shipped']), time: base + rng.int(0, 50), data });
  }
  return { id, stream: stream ?? rng.pick(STREAMS), key: rng.pick(KEYS), events, order: run * RUN_STRIDE + index };
}

export function eventsHash(events: ReadonlyArray<Pick<NewEvent, 'type' | 'time' | 'data'>>): string {
  const h = createHash('sha256');
  for (const e of events) h.update(JSON.stringify([e.type, e.time, e.data])).update('\n');
  return h.digest('hex').slice(0, 16);
}

export interface Expectation {
  /** The batch with this id, if any writer may have appended it (acknowledged or not). */
  batch(id: string): BatchSpec | undefined;
  /** Acknowledged batches and the placement the store acknowledged. */
  readonly acked: ReadonlyMap<string, Placement>;
}

export interface CheckResult {
  readonly violations: string[];
  /** Ids of the batches found in the store. */
  readonly present: Set<string>;
  readonly events: number;
  readonly shards: number;
}

function dataOf(e: StoredEvent): { b?: unknown; i?: unknown; n?: unknown; v?: unknown } {
  return typeof e.data === 'object' && e.data !== null && !Array.isArray(e.data) ? e.data : {};
}

/**
 * Checks a store against what was appended: every acknowledged batch present exactly once at the
 * acknowledged seq and position; every batch in the store whole (all-or-nothing), known, in one
 * contiguous run, with exactly the appended content; seqs contiguous per shard from 1 and positions
 * contiguous from 1; batches of a shard in submission order; heads, stats, readShard, readStream and
 * scanColumns (sealed Arrow files included) all agreeing with readAll. `streams` are the streams to
 * cross-check with readStream/scanColumns (default: every stream found).
 */
export async function checkStore(store: EventStore, expected: Expectation): Promise<CheckResult> {
  const violations: string[] = [];
  const fail = (message: string) => {
    if (violations.length < 20) violations.push(message);
  };
  const all = await collect(store.readAll({ batchSize: 997 }));
  const present = new Set<string>();
  const shardLast = new Map<string, { seq: number; time: number; order: number; stream: string; key: string }>();
  for (let i = 0; i < all.length; i++) {
    if ((all[i] as StoredEvent).position !== i + 1) {
      fail(`readAll: event ${i} has position ${(all[i] as StoredEvent).position}, expected ${i + 1} (positions not contiguous)`);
      break;
    }
  }
  let i = 0;
  while (i < all.length) {
    const first = all[i] as StoredEvent;
    const id = dataOf(first).b;
    let end = i + 1;
    while (end < all.length && dataOf(all[end] as StoredEvent).b === id) end++;
    const run = all.slice(i, end);
    i = end;
    const where = `batch ${String(id)} at position ${first.position}`;
    const spec = typeof id === 'string' ? expected.batch(id) : undefined;
    if (spec === undefined) {
      fail(`${where}: not a batch any writer appended`);
      continue;
    }
    if (present.has(spec.id)) fail(`${where}: appears more than once`);
    present.add(spec.id);
    if (run.length !== spec.events.length) {
      fail(`${where}: ${run.length} of its ${spec.events.length} events are visible (partial or duplicated batch)`);
    }
    for (let j = 0; j < run.length; j++) {
      const e = run[j] as StoredEvent;
      const want = spec.events[j];
      if (e.stream !== spec.stream || e.key !== spec.key) fail(`${where}: event ${j} is in ${e.stream}/${e.key}, appended to ${spec.stream}/${spec.key}`);
      if (e.seq !== first.seq + j) fail(`${where}: event ${j} has seq ${e.seq}, expected ${first.seq + j}`);
      if (want === undefined || e.type !== want.type || e.time !== want.time || JSON.stringify(e.data) !== JSON.stringify(want.data)) {
        fail(`${where}: event ${j} differs from what was appended`);
      }
    }
    const shard = `${spec.stream}/${spec.key}`;
    const last = shardLast.get(shard);
    if (first.seq !== (last?.seq ?? 0) + 1) fail(`${where}: starts ${shard} at seq ${first.seq} after seq ${last?.seq ?? 0} (gap or overlap)`);
    if (last !== undefined && spec.order < last.order) fail(`${where}: was submitted before the batch preceding it in ${shard}`);
    const lastEvent = run[run.length - 1] as StoredEvent;
    shardLast.set(shard, { seq: lastEvent.seq, time: lastEvent.time, order: spec.order, stream: spec.stream, key: spec.key });
    const ack = expected.acked.get(spec.id);
    if (ack !== undefined && (ack.firstSeq !== first.seq || ack.firstPosition !== first.position)) {
      fail(`${where}: acknowledged at seq ${ack.firstSeq} position ${ack.firstPosition}, found at seq ${first.seq} position ${first.position}`);
    }
  }
  for (const [id, ack] of expected.acked) {
    if (!present.has(id)) fail(`acknowledged batch ${id} (seq ${ack.firstSeq}, position ${ack.firstPosition}) is missing`);
  }

  // Every other way of reading must agree with readAll.
  const stats = await store.stats();
  if (stats.events !== all.length || stats.lastPosition !== all.length) {
    fail(`stats: events ${stats.events}, lastPosition ${stats.lastPosition}; readAll found ${all.length}`);
  }
  for (const { seq, time, stream, key } of shardLast.values()) {
    const head = await store.head(stream, key);
    if (head.lastSeq !== seq || head.lastTime !== time) fail(`head(${stream}/${key}) = ${JSON.stringify(head)}, expected seq ${seq} time ${time}`);
    const shard = await collect(store.readShard(stream, key, { batchSize: 13 }));
    const fromAll = all.filter((e) => e.stream === stream && e.key === key);
    if (JSON.stringify(shard) !== JSON.stringify(fromAll)) fail(`readShard(${stream}/${key}) disagrees with readAll`);
  }
  for (const stream of new Set(all.map((e) => e.stream))) {
    const fromAll = all.filter((e) => e.stream === stream);
    const events = await collect(store.readStream(stream, { batchSize: 101 }));
    if (JSON.stringify(events) !== JSON.stringify(fromAll)) fail(`readStream(${stream}) disagrees with readAll`);
    const columns: string[] = [];
    for await (const c of store.scanColumns(stream, { fields: ['v'] })) {
      for (let r = 0; r < c.length; r++) {
        columns.push(`${c.keys[c.keyIndex[r] as number]} ${c.seq[r]} ${c.position[r]} ${c.time[r]} ${c.types[c.typeIndex[r] as number]} ${c.fields.v?.[r]}`);
      }
    }
    const rows = fromAll.map((e) => `${e.key} ${e.seq} ${e.position} ${e.time} ${e.type} ${String(dataOf(e).v)}`);
    if (JSON.stringify(columns) !== JSON.stringify(rows)) fail(`scanColumns(${stream}) disagrees with readAll (${columns.length} rows vs ${rows.length})`);
  }
  return { violations, present, events: all.length, shards: shardLast.size };
}

/** Everything a reader can observe, as one string: equal fingerprints mean nothing changed. */
export async function fingerprint(store: EventStore): Promise<string> {
  const h = createHash('sha256');
  for await (const batch of store.readAll({ batchSize: 1000 })) h.update(JSON.stringify(batch));
  h.update(JSON.stringify(await store.stats()));
  h.update(JSON.stringify(await store.listSnapshots()));
  return h.digest('hex');
}
