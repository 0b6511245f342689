/**
 * Replays on worker threads (src/replay/worker-pool.ts): with W workers the engine writes exactly
 * what it writes on one thread — through the columnar fold (batches of a sealed embedded store in
 * shared memory, and copied batches of a memory store) and through the object path — and a handler
 * bug on a worker stops the replay naming the shard. The shard split is balanced (property).
 */
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore, isCorrupt, isInvalidInput, MemoryStore, Platform, type EventStore } from 'spive';
import { runReplay, type ReplayOptions } from '../../src/replay/engine.ts';
import type { ReplayJob } from '../../src/replay/types.ts';
import { ReplayWorkers, shareOut } from '../../src/replay/worker-pool.ts';
import type { ProcessDef } from '../../src/app/define.ts';
import { realClock } from '../../src/time/clock.ts';
import { totalsApp } from './fixtures/totals.ts';
import { copyStore } from './helpers.ts';

const V2_APP = fileURLToPath(new URL('./fixtures/totals-v2-app.ts', import.meta.url));
const BUGGY_APP = fileURLToPath(new URL('./fixtures/totals-buggy-app.ts', import.meta.url));
const ACCOUNTS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

let dir: string;
let original: MemoryStore;

/** 700 payments over 7 accounts written by v1's live runtime (with snapshots every 5 events). */
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'spive-replay-workers-'));
  original = new MemoryStore();
  const platform = await Platform.start(totalsApp('v1'), { store: original, version: 'v1', idle: false, ingressIdle: false });
  for (let i = 0; i < 700; i++) {
    const account = ACCOUNTS[(i * 5) % ACCOUNTS.length] as string;
    await platform.append('payments', { type: i % 9 === 0 ? 'Refunded' : 'Paid', data: { account, amount: (i * 37) % 101 }, time: 1000 + i * 3 });
  }
  await platform.settle({ timeoutMs: 60_000 });
  await platform.stop();
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Rays for every other account (from its newest snapshot), scratch for the rest. */
async function job(store: EventStore): Promise<ReplayJob> {
  const snaps = await store.listSnapshots({ process: 'totals' });
  const tasks = ACCOUNTS.map((key, i) => {
    const snap = snaps.filter((s) => s.shard === key).sort((x, y) => y.position - x.position)[0];
    return i % 2 === 0 && snap !== undefined ? { key, mode: 'ray' as const, snapshot: { version: snap.version, position: snap.position }, estimatedEvents: 50 } : { key, mode: 'scratch' as const, estimatedEvents: 100 };
  });
  return { process: 'totals', fromVersion: 'v1', toVersion: 'v2', strategy: 'per-shard-mix', tasks, downstream: [] };
}

async function written(store: EventStore, stream: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const batch of store.readStream(stream)) for (const e of batch) out.push([e.key, e.seq, e.type, e.time, e.data, e.meta]);
  return out.sort((a, b) => ((a as string[])[0] as string).localeCompare((b as string[])[0] as string));
}

async function memoryCopy(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await copyStore(original, store);
  return store;
}

async function replayed(store: EventStore, options: Partial<ReplayOptions>) {
  const result = await runReplay({ store, app: totalsApp('v2'), appVersion: 'x', job: await job(store), clock: realClock, listEffects: true, ...options });
  const effects = [...result.effects].sort((x, y) => x.idempotencyKey.localeCompare(y.idempotencyKey));
  return { result, effects, out: await written(store, 'totals--v2') };
}

describe('replay on worker threads', () => {
  it('folds the sealed columns of an embedded store on 2 workers to exactly the one-thread output', async () => {
    const store = await EmbeddedStore.open(join(dir, 'sealed'), { segmentBytes: 16 * 1024 });
    try {
      await copyStore(original, store);
      await store.seal();
      const one = await replayed(await memoryCopy(), {});
      const two = await replayed(store, { workers: 2, appFile: V2_APP });
      expect(two.result.processes[0]?.columnarShards).toBe(ACCOUNTS.length);
      expect(two.out.length).toBeGreaterThan(0);
      expect(two.out).toEqual(one.out);
      expect(two.effects).toEqual(one.effects);
      expect(two.result.eventsRead).toBe(one.result.eventsRead);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a corrupt block of a sealed column file stops a replay on workers, naming the file and offset, before anything is written', async () => {
    const path = join(dir, 'corrupt');
    const store = await EmbeddedStore.open(path, { segmentBytes: 16 * 1024 });
    await copyStore(original, store);
    await store.seal();
    await store.close();
    // Flip one byte in the middle of the payments stream's first column file.
    const file = readdirSync(join(path, 'columns'), { recursive: true }).map(String).filter((f) => f.includes('payments') && f.endsWith('.arrow')).sort()[0] as string;
    const bytes = readFileSync(join(path, 'columns', file));
    const middle = bytes.length >> 1;
    bytes[middle] = (bytes[middle] as number) ^ 0xff;
    writeFileSync(join(path, 'columns', file), bytes);
    const reopened = await EmbeddedStore.open(path);
    try {
      await expect(replayed(reopened, { workers: 2, appFile: V2_APP })).rejects.toSatisfy((e: unknown) => isCorrupt(e) && (e as Error).message.includes(file) && /at offset \d+: checksum mismatch/.test((e as Error).message));
      expect(await written(reopened, 'totals--v2')).toEqual([]);
    } finally {
      await reopened.close();
    }
  }, 60_000);

  it('runs the object path on 3 workers to exactly the one-thread output (memory store: batches are copied)', async () => {
    const one = await replayed(await memoryCopy(), { columnar: false });
    const three = await replayed(await memoryCopy(), { columnar: false, workers: 3, appFile: V2_APP });
    expect(three.result.processes[0]?.columnarShards).toBe(0);
    expect(three.out).toEqual(one.out);
    expect(three.effects).toEqual(one.effects);
    const folded = await replayed(await memoryCopy(), { workers: 2, appFile: V2_APP });
    expect(folded.out).toEqual(one.out);
  }, 60_000);

  it('a handler bug on a worker stops the replay naming the process and the shard', async () => {
    const store = await memoryCopy();
    const { default: buggy } = await import('./fixtures/totals-buggy-app.ts');
    const scratch: ReplayJob = { ...(await job(store)), tasks: ACCOUNTS.map((key) => ({ key, mode: 'scratch' })) };
    const run = runReplay({ store, app: buggy, appVersion: 'x', job: scratch, clock: realClock, workers: 2, appFile: BUGGY_APP });
    await expect(run).rejects.toThrow(/process totals stopped: its handler for payments\/c#\d+ .* in shard c threw: planted: account c cannot be totalled/);
  }, 60_000);

  it('folds again into the shared buffers of its last fold, to the same result, one fold at a time', async () => {
    const store = await EmbeddedStore.open(join(dir, 'refold'), { segmentBytes: 16 * 1024 });
    const workers = await ReplayWorkers.start(2, V2_APP);
    try {
      await copyStore(original, store);
      await store.seal();
      const p = totalsApp('v2').processes.find((q) => q.name === 'totals') as ProcessDef<unknown>;
      const fold = () =>
        workers.fold({
          process: 'totals',
          version: 'v2',
          batches: store.scanColumns('payments', { fields: ['amount'], buffers: workers.scanBuffers }),
          m: null,
          limit: 700,
          shards: new Map(ACCOUNTS.map((a) => [a, { state: p.initial(a), afterM: 0 }])),
          check: false,
        });
      const first = await fold();
      const memory = workers.scanBuffers.slots.map((b) => b?.bytes.buffer);
      expect(memory.filter((b) => b instanceof SharedArrayBuffer).length).toBeGreaterThan(1);
      const second = await fold();
      expect(workers.scanBuffers.slots.map((b) => b?.bytes.buffer)).toEqual(memory);
      expect(first.scanned).toBe(700);
      expect([...second.shards].map(([k, s]) => [k, s.state, s.outputs])).toEqual([...first.shards].map(([k, s]) => [k, s.state, s.outputs]));
      // A second fold while one runs would mix both in the workers' state and buffers.
      const running = fold();
      await expect(fold()).rejects.toThrow(/one fold at a time/);
      await running;
      // The batches follow a start without waiting for its reply: a start that fails is what the fold
      // reports (not the batches the worker then could not fold), and the pool folds on after it.
      await expect(workers.fold({ process: 'no-such-process', version: 'v2', batches: store.scanColumns('payments', { fields: ['amount'], buffers: workers.scanBuffers }), m: null, limit: 700, shards: new Map(), check: false })).rejects.toThrow(/has no process no-such-process/);
      expect([...(await fold()).shards].map(([k, s]) => [k, s.state])).toEqual([...first.shards].map(([k, s]) => [k, s.state]));
    } finally {
      await workers.close();
      await store.close();
    }
  }, 60_000);

  it('rejects a worker count below 1 and workers without the app file', async () => {
    const store = await memoryCopy();
    const base = { store, app: totalsApp('v2'), appVersion: 'x', job: await job(store), clock: realClock };
    await expect(runReplay({ ...base, workers: 0 })).rejects.toSatisfy(isInvalidInput);
    await expect(runReplay({ ...base, workers: 2 })).rejects.toThrow(/appFile.*module file/);
    await expect(runReplay({ ...base, workers: 2, appFile: join(dir, 'no-such-app.ts') })).rejects.toThrow(/no-such-app/);
  }, 60_000);
});

describe('shareOut', () => {
  it('gives every shard to exactly one worker, within the greedy bound of the ideal load (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 1000 }), { minKeys: 1 }), fc.integer({ min: 1, max: 6 }), (weightsObject, parts) => {
        const weights = new Map(Object.entries(weightsObject));
        const shards = new Map([...weights.keys()].map((k) => [k, k]));
        const out = shareOut(shards, weights, parts);
        expect(out).toHaveLength(parts);
        const seen = out.flatMap((m) => [...m.keys()]).sort();
        expect(seen).toEqual([...shards.keys()].sort());
        const loads = out.map((m) => [...m.keys()].reduce((n, k) => n + (weights.get(k) as number), 0));
        const total = loads.reduce((a, b) => a + b, 0);
        const heaviest = Math.max(...weights.values());
        // Greedy, heaviest first: no worker ends above the mean by more than one shard.
        expect(Math.max(...loads)).toBeLessThanOrEqual(total / parts + heaviest);
      }),
    );
  });
});
