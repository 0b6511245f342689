/**
 * What a replay pays to write a rebuilt shard, measured by doing it: appends into a throwaway
 * embedded store (a hidden folder beside the store, see probeWrites; removed afterwards), shaped like
 * the engine's writes (src/replay/shard-write.ts) — per shard one conditional append of a small fork record plus the
 * shard's new events, up to 8 shards in flight (process-replay.ts) so that they share fsyncs
 * (the store's group commit). Sample calibration missed this entirely: it times handlers and reads,
 * while every rebuilt shard also costs an append and its share of an fsync.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { NewEvent } from '../../src/model/event.ts';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.ts';
import type { Clock } from '../../src/time/clock.ts';
import { typicalMs } from './typical.ts';

export interface WriteCost {
  /** Fixed cost per rebuilt shard: its fork record appended (an append, a share of an fsync). */
  readonly nsPerShardWrite: number;
  /** Per new output event appended (encoding, framing, bytes written). */
  readonly nsPerWrittenEvent: number;
}

/** Shards per timed round; the engine's concurrency (process-replay.ts `concurrency`, default 8). */
const SHARDS = 32;
const CONCURRENCY = 8;
/** Events per shard in the round that times per-event cost. */
const EVENTS = 40;
const REPEAT = 5;

/**
 * `outputs`: example output events of the process (payload sizes matter); none: a small record.
 * `near`: the store's folder. The probe's store is made beside it (a hidden folder, removed after), so
 * that it pays the store's disk's fsyncs: the OS temporary folder is often another disk, or memory
 * (tmpfs), where an fsync costs nothing. Where that folder is not writable, the temporary folder.
 * Returns undefined when the probe cannot run (no writable folder).
 */
export async function probeWrites(clock: Clock, outputs: readonly NewEvent<unknown>[], near?: string): Promise<WriteCost | undefined> {
  const dir = probeFolder(near);
  if (dir === undefined) return undefined;
  const examples = outputs.length > 0 ? outputs : [{ type: 'Probed', data: { account: 'acct-0', amount: 1, id: 'probe-0' } }];
  let store: EmbeddedStore | undefined;
  try {
    store = await EmbeddedStore.open(dir, { lock: false, autoSeal: false });
    const s = store;
    let round = 0;
    // One round: SHARDS fresh shards, each one append of a fork-like record and `events` events.
    const write = async (events: number): Promise<number> => {
      const stream = `probe-${round++}`;
      const started = clock.monotonicMs();
      await inPool(SHARDS, CONCURRENCY, async (i) => {
        const batch: NewEvent<unknown>[] = [{ type: '$fork', time: 0, data: { base: 'probe', baseSeq: 0, count: events }, meta: { v: 'probe' } }];
        for (let j = 0; j < events; j++) {
          const e = examples[(i * events + j) % examples.length] as NewEvent<unknown>;
          batch.push({ type: e.type, time: j, data: e.data ?? null, meta: { v: 'probe', m: j + 1, in: [0, j + 1] } });
        }
        await s.append(stream, `k${i}`, batch, { expect: { lastSeq: 0 } });
      });
      return clock.monotonicMs() - started;
    };
    await write(1); // warm-up: opening the segment, the JIT
    const smalls: number[] = [];
    const larges: number[] = [];
    for (let r = 0; r < REPEAT; r++) {
      smalls.push(await write(0));
      larges.push(await write(EVENTS));
    }
    const small = typicalMs(smalls);
    const large = typicalMs(larges);
    return {
      nsPerShardWrite: (small / SHARDS) * 1e6,
      nsPerWrittenEvent: (Math.max(0, large - small) / (SHARDS * EVENTS)) * 1e6,
    };
  } catch {
    return undefined;
  } finally {
    await store?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh folder beside `near` when it can be made there, else in the OS temporary folder. */
function probeFolder(near: string | undefined): string | undefined {
  const candidates = near === undefined ? [tmpdir()] : [dirname(resolve(near)), tmpdir()];
  for (const parent of candidates) {
    try {
      return mkdtempSync(join(parent, parent === tmpdir() ? 'spive-calibrate-' : '.spive-calibrate-'));
    } catch {
      // not writable: the next candidate
    }
  }
  return undefined;
}

async function inPool(n: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
}
