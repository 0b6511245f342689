/**
 * Calibrates a process's cost model on this machine by doing, on a sample, what a replay does:
 * read its real input events from the store, decode them, run its real handlers per shard, and
 * restore some of its real snapshots — and the replay engine's own steps around them: reading the
 * inputs' columns to number them, routing re-keyed inputs, and appending fork records and new
 * events (into a throwaway store, write-probe.ts; the figures run-overheads.ts prices a run with).
 * Each figure is the typical time of several repetitions after an untimed warm-up (the JIT): what a
 * run of seconds gets on this machine as loaded as it is now (typical.ts).
 */
import type { NewEvent, StoredEvent } from '../../src/model/event.ts';
import { HandlerCallContext } from '../../src/runtime/handler-context.ts';
import { isRoundShard } from '../../src/runtime/runner.ts';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { realClock, type Clock } from '../../src/time/clock.ts';
import type { AnyProcess } from '../graph.ts';
import type { CostModel } from '../types.ts';
import { typicalMs } from './typical.ts';
import { probeWrites } from './write-probe.ts';

export interface CalibrateOptions {
  readonly store: EventStore;
  readonly process: AnyProcess;
  readonly version: string;
  readonly clock?: Clock;
  /** Events sampled per input stream (default 2,000, from four places in its history). */
  readonly sampleSize?: number;
  /** Measure the engine's write path in a throwaway store (default: when the store is an embedded one, whose writes it models). */
  readonly probeWrites?: boolean;
}

/** Used when a process has no events to sample: figures of a small JSON handler on this kind of machine. */
export const DEFAULT_COST: Omit<CostModel, 'process'> = { nsPerEvent: 1500, nsPerByte: 8, nsPerSnapshotByte: 8, nsPerSnapshot: 50_000, nsPerShard: 20_000, source: 'default', samples: 0 };

/**
 * Timed repetitions (their typical time kept, typical.ts) after one untimed warm-up: V8 optimizes a
 * handler only after many calls, and a process calibrated first in a run (with nothing warmed before
 * it) measured 3-4x slower with three repetitions and no warm-up than the same process calibrated
 * after another.
 */
const REPEAT = 5;
/**
 * In-memory figures (parsing, handlers, routing) take a few ms each: more repetitions, which cost
 * little, so that their mean covers more than a scheduler time slice or two on a busy machine.
 */
const REPEAT_IN_MEMORY = 15;

export async function calibrate(options: CalibrateOptions): Promise<CostModel> {
  const { store, process: p, version } = options;
  const clock = options.clock ?? realClock;
  const perInput = options.sampleSize ?? 2000;
  const stats = await store.stats();

  // 1. Read a sample of each input from four places in its history; then time warm reads of two
  //    longer runs of it (a replay reads history the page cache usually holds).
  const samples: Array<{ input: number; event: StoredEvent }> = [];
  const ranges: Array<{ stream: string; from: number; count: number }> = [];
  for (let input = 0; input < p.inputs.length; input++) {
    const name = p.inputs[input]?.stream.name as string;
    const last = stats.streams.find((s) => s.stream === name)?.lastPosition ?? 0;
    if (last === 0) continue;
    const seen = new Set<number>();
    for (const fraction of [0, 0.25, 0.5, 0.75]) {
      const from = Math.max(1, Math.floor(last * fraction));
      await readRange(store, name, from, Math.ceil(perInput / 4), (e) => {
        if (e.type.startsWith('$') || seen.has(e.position)) return;
        seen.add(e.position);
        samples.push({ input, event: e });
      });
    }
    // The timed reads are longer runs than the sampled ones: a replay scans streams (or reads whole
    // shards), and a short read from a position mostly pays for finding it (on a generated bank
    // store, 500 events from a position cost 3-6x per event what a scan does).
    for (const fraction of [0.2, 0.6]) ranges.push({ stream: name, from: Math.max(1, Math.floor(last * fraction)), count: perInput });
  }
  let reread = 0;
  const readMs = await timedAsync(clock, async () => {
    reread = 0;
    for (const r of ranges) reread += await readRange(store, r.stream, r.from, r.count, () => {});
  });
  if (samples.length === 0) return { process: p.name, ...DEFAULT_COST };

  // 2. Decoding: payload JSON parse per byte.
  const texts = samples.map((s) => JSON.stringify(s.event.data ?? null));
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  const parseMs = timed(clock, () => {
    for (const t of texts) JSON.parse(t);
  });

  // 3. The real handlers, folded per shard from the initial state, the way the runner calls them.
  //    The first pass keeps what they emit: the write probe appends such events.
  const outputs: NewEvent<unknown>[] = [];
  let emitted = -1;
  const handleMs = timed(clock, () => {
    emitted++;
    const states = new Map<string, unknown>();
    let m = 0;
    for (const { input, event } of samples) {
      m++;
      const handler = p.handlers[input]?.[event.type];
      if (handler === undefined) continue;
      const keyFn = p.inputs[input]?.key;
      const keys = keyFn === undefined ? [event.key] : ([] as string[]).concat(keyFn(event as never));
      for (const key of keys) {
        const state = states.has(key) ? states.get(key) : p.initial(key);
        const ctx = new HandlerCallContext(p.name, version, key, event.time, m);
        try {
          states.set(key, handler(state, event as never, ctx as never));
          if (emitted === 0) for (const o of ctx.outputs) outputs.push({ type: o.type, time: event.time, data: o.data });
        } catch {
          // A handler may reject a mid-history event seen without its shard's earlier history; its cost still counts.
        }
      }
    }
  });

  // 3b. Routing a re-keyed input: the key function per decoded event (the engine scans such inputs whole).
  const rekeyed = samples.filter((s) => p.inputs[s.input]?.key !== undefined);
  const routeMs = rekeyed.length === 0 ? 0 : timed(clock, () => {
    for (const { input, event } of rekeyed) (p.inputs[input]?.key as (e: never) => unknown)(event as never);
  });

  // 3c. Numbering: a replay reads each input's key, time and type columns whole, once per run.
  const columnMs = await timedAsync(clock, async () => {
    for (const input of p.inputs) await scanColumnsUpTo(store, input.stream.name, perInput);
  });
  let columnEvents = 0;
  for (const input of p.inputs) columnEvents += await scanColumnsUpTo(store, input.stream.name, perInput);

  // 4. Per shard: a fresh state and the first read of the shard.
  const keys = [...new Set(samples.map((s) => s.event.key))].slice(0, 20);
  // Several passes, like every other figure: one pass of 20 shard reads varied 3-4x run to run.
  const shardsMs = await timedAsync(clock, async () => {
    for (const key of keys) {
      p.initial(key);
      const stream = samples.find((s) => s.event.key === key)?.event.stream as string;
      for await (const batch of store.readShard(stream, key, { batchSize: 1 })) if (batch.length > 0) break;
    }
  });
  const nsPerShard = (shardsMs / keys.length) * 1e6;

  // 5. Snapshots: fetching one (a fixed cost) and decoding its bytes (per byte).
  let nsPerSnapshot = 0;
  let nsPerSnapshotByte = 0;
  const infos = (await store.listSnapshots({ process: p.name })).filter((s) => !isRoundShard(s.shard)).slice(-20);
  let fetched: Uint8Array[] = [];
  const fetchMs = await timedAsync(clock, async () => {
    fetched = [];
    for (const info of infos) {
      const snap = await store.getSnapshot({ process: info.process, version: info.version, shard: info.shard, atOrBefore: info.position });
      if (snap !== undefined) fetched.push(snap.data);
    }
  });
  if (fetched.length > 0) {
    const decoder = new TextDecoder();
    const snapBytes = fetched.reduce((n, d) => n + d.byteLength, 0);
    const decodeMs = timed(clock, () => {
      for (const d of fetched) JSON.parse(decoder.decode(d));
    });
    nsPerSnapshotByte = snapBytes > 0 ? (decodeMs / snapBytes) * 1e6 : 0;
    nsPerSnapshot = Math.max(0, ((fetchMs - decodeMs) / fetched.length) * 1e6);
  }

  // 6. The engine's writes: appends of fork records and new events, measured in a throwaway store.
  const probe = (options.probeWrites ?? store instanceof EmbeddedStore) ? await probeWrites(clock, outputs, store instanceof EmbeddedStore ? store.dir : undefined) : undefined;

  const n = samples.length;
  const nsPerByte = bytes > 0 ? (parseMs / bytes) * 1e6 : 0;
  // Reading costs more than parsing the payload (framing, checksums, objects): the rest is per event.
  const readOverheadNs = reread > 0 ? Math.max(0, ((readMs - parseMs * (reread / n)) / reread) * 1e6) : 0;
  return {
    process: p.name,
    nsPerEvent: (handleMs / n) * 1e6 + readOverheadNs,
    nsPerReadEvent: readOverheadNs,
    nsPerByte,
    nsPerSnapshotByte: nsPerSnapshotByte > 0 ? nsPerSnapshotByte : nsPerByte,
    nsPerSnapshot,
    nsPerShard,
    ...(probe === undefined ? {} : probe),
    outputsPerEvent: outputs.length / n,
    nsPerRoutedEvent: rekeyed.length === 0 ? 0 : (routeMs / rekeyed.length) * 1e6,
    nsPerColumnEvent: columnEvents > 0 ? (columnMs / columnEvents) * 1e6 : 0,
    source: 'sample',
    samples: n,
  };
}

/** Scans a stream's columns (no payloads) until at least `count` events; returns how many it scanned. */
async function scanColumnsUpTo(store: EventStore, stream: string, count: number): Promise<number> {
  let seen = 0;
  for await (const batch of store.scanColumns(stream, { fields: [] })) {
    seen += batch.length;
    if (seen >= count) break;
  }
  return seen;
}

/** Reads up to `count` events of a stream from a position; returns how many it read. */
async function readRange(store: EventStore, stream: string, from: number, count: number, each: (e: StoredEvent) => void): Promise<number> {
  let taken = 0;
  for await (const batch of store.readStream(stream, { fromPosition: from, batchSize: count })) {
    for (const e of batch) {
      if (taken >= count) return taken;
      taken++;
      each(e);
    }
    if (taken >= count) return taken;
  }
  return taken;
}

async function timedAsync(clock: Clock, work: () => Promise<void>): Promise<number> {
  await work(); // untimed warm-up (the JIT)
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const start = clock.monotonicMs();
    await work();
    times.push(clock.monotonicMs() - start);
  }
  return typicalMs(times);
}

function timed(clock: Clock, work: () => void): number {
  work(); // untimed warm-up (the JIT)
  const times: number[] = [];
  for (let i = 0; i < REPEAT_IN_MEMORY; i++) {
    const start = clock.monotonicMs();
    work();
    times.push(clock.monotonicMs() - start);
  }
  return typicalMs(times);
}
