/**
 * The columnar fold (src/replay/columnar-fold.ts) against the object path: for any history of
 * payments — numeric amounts, missing or non-numeric ones, types without a handler, scratch and ray
 * tasks — a replay with the fold writes exactly the versioned stream, effects and counts a replay
 * through decoded events writes (fast-check, memory stores; and once on a sealed embedded store, so
 * the Arrow path is the one folded). Plus the checking mode: a wrong `reads` declaration is an error.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineApp, defineProcess, defineStream, EmbeddedStore, MemoryStore, Platform, type EventStore, type JsonValue } from 'spive';
import { UndeclaredReadError } from '../../src/replay/column-view.ts';
import { runReplay } from '../../src/replay/engine.ts';
import type { ReplayJob, ShardJob } from '../../src/replay/types.ts';
import { realClock } from '../../src/time/clock.ts';
import { totalsApp } from './fixtures/totals.ts';
import { copyStore } from './helpers.ts';

interface Payment {
  readonly account: string;
  readonly type: 'Paid' | 'Refunded' | 'Noted';
  readonly amount: number | string | null;
}

const payment = fc.record({
  account: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
  type: fc.constantFrom<Payment['type']>('Paid', 'Paid', 'Refunded', 'Noted'),
  // Mostly numbers (including -0 and fractions); sometimes missing or a string.
  amount: fc.oneof({ weight: 12, arbitrary: fc.oneof(fc.integer({ min: -5, max: 120 }), fc.constant(-0), fc.double({ min: -1e6, max: 1e6, noNaN: true })) }, { weight: 1, arbitrary: fc.constantFrom<number | string | null>(null, '12') }),
});

/** A store holding the payments and v1's output, written by the live runtime (with snapshots). */
async function oldStore(history: readonly Payment[]): Promise<MemoryStore> {
  const store = new MemoryStore();
  const platform = await Platform.start(totalsApp('v1'), { store, version: 'v1', idle: false, ingressIdle: false });
  let time = 1000;
  for (const p of history) {
    const data: JsonValue = p.type === 'Noted' ? { account: p.account, note: 'n' } : p.amount === null ? { account: p.account } : { account: p.account, amount: p.amount };
    await platform.append('payments', { type: p.type, data, time: (time += 7) });
  }
  await platform.settle({ timeoutMs: 60_000 });
  await platform.stop();
  return store;
}

/** One task per account: ray from its newest snapshot for every other account, scratch otherwise. */
async function jobFor(store: EventStore, rays: boolean): Promise<ReplayJob> {
  const keys = new Set<string>();
  for await (const batch of store.readStream('payments')) for (const e of batch) keys.add(e.key);
  const snaps = await store.listSnapshots({ process: 'totals' });
  const tasks: ShardJob[] = [...keys].sort().map((key, i) => {
    const snap = snaps.filter((s) => s.shard === key).sort((x, y) => y.position - x.position)[0];
    return rays && i % 2 === 0 && snap !== undefined ? { key, mode: 'ray', snapshot: { version: snap.version, position: snap.position } } : { key, mode: 'scratch' };
  });
  return { process: 'totals', fromVersion: 'v1', toVersion: 'v2', strategy: 'per-shard-mix', tasks, downstream: [] };
}

async function written(store: EventStore, stream: string) {
  const out: unknown[] = [];
  for await (const batch of store.readStream(stream)) for (const e of batch) out.push({ key: e.key, seq: e.seq, type: e.type, time: e.time, data: e.data, meta: e.meta });
  return out.sort((a, b) => ((a as { key: string }).key < (b as { key: string }).key ? -1 : 1));
}

/** Effects in a stable order (shards finish in any order). */
function byKey<T extends { idempotencyKey: string }>(effects: readonly T[]): T[] {
  return [...effects].sort((a, b) => (a.idempotencyKey < b.idempotencyKey ? -1 : 1));
}

async function both(history: readonly Payment[], rays: boolean, check: boolean) {
  const a = await oldStore(history);
  const b = new MemoryStore();
  await copyStore(a, b);
  const job = await jobFor(a, rays);
  const app = totalsApp('v2');
  const fast = await runReplay({ store: a, app, appVersion: 'x', job, clock: realClock, listEffects: true, checkReads: check });
  const slow = await runReplay({ store: b, app, appVersion: 'x', job, clock: realClock, listEffects: true, columnar: false });
  return { fast, slow, fastOut: await written(a, 'totals--v2'), slowOut: await written(b, 'totals--v2') };
}

describe('columnar fold', () => {
  it('writes exactly what the object path writes, for any history (scratch and ray tasks)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(payment, { minLength: 1, maxLength: 60 }), fc.boolean(), fc.boolean(), async (history, rays, check) => {
        const { fast, slow, fastOut, slowOut } = await both(history, rays, check);
        expect(fastOut).toEqual(slowOut);
        expect(byKey(fast.effects)).toEqual(byKey(slow.effects));
        expect(fast.eventsRead).toBe(slow.eventsRead);
        expect(fast.eventsWritten).toBe(slow.eventsWritten);
        expect(slow.processes[0]?.columnarShards).toBe(0);
        // Shards whose every payment had a numeric amount are folded; the others fall back.
        const clean = new Set(history.map((p) => p.account));
        for (const p of history) if (p.type !== 'Noted' && typeof p.amount !== 'number') clean.delete(p.account);
        expect(fast.processes[0]?.columnarShards).toBeGreaterThanOrEqual(rays ? 0 : clean.size);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('folds the sealed Arrow columns of an embedded store to the same output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spive-columnar-'));
    try {
      const history: Payment[] = Array.from({ length: 400 }, (_, i) => ({ account: `k${(i * 7) % 13}`, type: i % 11 === 0 ? 'Refunded' : 'Paid', amount: (i * 37) % 101 }));
      const memory = await oldStore(history);
      const reference = new MemoryStore();
      await copyStore(memory, reference);
      const store = await EmbeddedStore.open(join(dir, 'store'), { segmentBytes: 16 * 1024 });
      await copyStore(memory, store);
      await store.seal();
      const job = await jobFor(store, true);
      const app = totalsApp('v2');
      const fast = await runReplay({ store, app, appVersion: 'x', job, clock: realClock, listEffects: true, checkReads: true });
      const slow = await runReplay({ store: reference, app, appVersion: 'x', job, clock: realClock, listEffects: true, columnar: false });
      expect(fast.processes[0]?.columnarShards).toBe(13);
      expect(await written(store, 'totals--v2')).toEqual(await written(reference, 'totals--v2'));
      expect(byKey(fast.effects)).toEqual(byKey(slow.effects));
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  describe('checking mode: a wrong reads declaration is an error', () => {
    const payments = defineStream<{ Paid: { account: string; amount: number } }>('payments', { key: (e) => e.data.account });
    const out = defineStream<{ Seen: { what: unknown } }>('seen');
    const appWith = (handler: (s: { n: number; kept?: unknown }, e: { data: { account: string; amount: number }; time: number }, ctx: { emit(t: 'Seen', d: { what: unknown }): void }) => { n: number }) => {
      const p = defineProcess({ name: 'seen', version: 'v2', inputs: { payments }, output: out, reads: ['amount'], initial: () => ({ n: 0 }), on: { payments: { Paid: handler } } });
      return defineApp({ name: 'seen', streams: [payments, out], processes: [p] });
    };
    const run = async (app: ReturnType<typeof appWith>, checkReads: boolean) => {
      const store = new MemoryStore();
      for (let i = 0; i < 4; i++) await store.append('payments', 'a', [{ type: 'Paid', time: i, data: { account: 'a', amount: i } }]);
      return runReplay({ store, app, appVersion: 'x', job: { process: 'seen', fromVersion: null, toVersion: 'v2', strategy: 'shards-from-scratch', tasks: [{ key: 'a', mode: 'scratch' }], downstream: [] }, clock: realClock, checkReads });
    };

    it('reading an undeclared field', async () => {
      const app = appWith((s, e) => ({ n: s.n + e.data.account.length }));
      await expect(run(app, true)).rejects.toThrow(UndeclaredReadError);
      await expect(run(app, true)).rejects.toThrow(/read payload field 'account'.*reads: \[amount\]/);
    });

    it('enumerating or spreading the payload', async () => {
      await expect(run(appWith((s, e) => ({ n: s.n + Object.keys(e.data).length })), true)).rejects.toThrow(/enumerated the payload/);
      await expect(run(appWith((s, e) => ({ n: s.n, kept: { ...e.data } })), true)).rejects.toThrow(UndeclaredReadError);
    });

    it('emitting the payload itself', async () => {
      await expect(run(appWith((s, e, ctx) => (ctx.emit('Seen', e.data as never), s)), true)).rejects.toThrow(/emitted the input payload/);
      await expect(run(appWith((s, e, ctx) => (ctx.emit('Seen', e.data as never), s)), false)).rejects.toThrow(/emitted the input payload/);
      // Nested in another object it is found only in checking mode (the revoked view fails when written).
      await expect(run(appWith((s, e, ctx) => (ctx.emit('Seen', { what: e.data }), s)), true)).rejects.toThrow(/revoked/);
    });

    it('keeping the view past the call', async () => {
      const app = appWith((s, e) => ({ n: s.n + ((s.kept as { data: { amount: number } } | undefined)?.data.amount ?? 0) + e.data.amount, kept: e }));
      await expect(run(app, true)).rejects.toThrow(/revoked/);
    });

    it('a correct declaration passes, and folds', async () => {
      const result = await run(appWith((s, e, ctx) => (ctx.emit('Seen', { what: e.data.amount + e.time }), { n: s.n + e.data.amount })), true);
      expect(result.processes[0]?.columnarShards).toBe(1);
      expect(result.eventsWritten).toBe(4);
    });
  });
});
