/**
 * Each input is reflected exactly once in each output, across clean restarts and crashes at any
 * point, and the final state equals an uninterrupted run fed the same inputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore, ManualClock, MemoryLog, MemoryStore, Platform, type EventStore, type StoredEvent } from 'spive';
import bank, { balances, ledger } from '../../examples/bank/app.ts';
import { bankInputs, type BankInput } from '../examples/bank-inputs.ts';
import { FaultyStore } from '../helpers/faulty-store.ts';
import { tempDir } from '../helpers/temp-dir.ts';

type Input = BankInput;

const quiet = { idle: false as const, ingressIdle: false as const, version: 'v1' };

async function outputs(store: EventStore, stream: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for await (const batch of store.readStream(stream)) all.push(...batch.filter((e) => !e.type.startsWith('$')));
  return all;
}

async function reference(inputs: Input[]) {
  const store = new MemoryStore();
  const platform = await Platform.start(bank, { store, ...quiet });
  for (const input of inputs) await platform.append('transfers', input);
  await platform.settle();
  const view = platform.view();
  const states = Object.fromEntries(view.keys(balances).map((k) => [k, view.state(balances, k)]));
  await platform.stop();
  return { states, ledger: await outputs(store, 'ledger'), balances: await outputs(store, 'balances') };
}

/** Output payloads per shard, in order: what "the same output" means across runs. */
function byShard(events: StoredEvent[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const e of events) (out[e.key] ??= []).push([e.type, e.time, e.data]);
  return out;
}

/** Both outputs equal the uninterrupted run's, shard by shard, and reflect each input once. */
async function expectOutputsOf(store: EventStore, expected: Awaited<ReturnType<typeof reference>>): Promise<void> {
  for (const stream of ['ledger', 'balances'] as const) {
    const actual = await outputs(store, stream);
    expect(byShard(actual), stream).toEqual(byShard(expected[stream]));
    expectEachInputOnce(actual);
  }
}

function expectEachInputOnce(events: StoredEvent[]): void {
  const lastM = new Map<string, number>();
  for (const e of events) {
    const m = e.meta?.m as number;
    const before = lastM.get(e.key) ?? 0;
    // Outputs of one input share m and are contiguous; a later input has a larger m.
    expect(m).toBeGreaterThanOrEqual(before);
    lastM.set(e.key, m);
  }
  const batches = new Set(events.map((e) => `${e.key}/${e.meta?.m}`));
  const perInput = new Map<string, number[]>();
  for (const e of events) (perInput.get(`${e.key}/${e.meta?.m}`) ?? perInput.set(`${e.key}/${e.meta?.m}`, []).get(`${e.key}/${e.meta?.m}`)!).push(e.seq);
  for (const id of batches) {
    const seqs = perInput.get(id)!;
    expect(seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1), `outputs of ${id} are one contiguous batch`).toBe(true);
  }
}

describe('exactly-once reflection', () => {
  it('resumes after a clean stop with the same outputs and state as an uninterrupted run (embedded store)', async () => {
    const inputs = bankInputs(7, 120);
    const expected = await reference(inputs);
    const dir = tempDir();
    try {
      for (const [from, to] of [[0, 40], [40, 41], [41, 120]] as const) {
        const store = await EmbeddedStore.open(dir.path);
        const platform = await Platform.start(bank, { store, ...quiet });
        for (const input of inputs.slice(from, to)) await platform.append('transfers', input);
        await platform.settle();
        if (to === 120) {
          const view = platform.view();
          // States after the last restart cover only shards touched since; check those against the reference.
          for (const k of view.keys(balances)) expect(view.state(balances, k)).toEqual(expected.states[k]);
        }
        await platform.stop();
        await store.close();
      }
      const store = await EmbeddedStore.open(dir.path, { readOnly: true });
      await expectOutputsOf(store, expected);
      await store.close();
    } finally {
      dir.cleanup();
    }
  });

  it('recovers from a crash at any output append: nothing lost, nothing twice', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 60 }), fc.constantFrom('ledger', 'balances'), async (seed, crashAfter, stream) => {
        const inputs = bankInputs(seed, 60);
        const expected = await reference(inputs);
        const clock = new ManualClock(1_000_000);
        const faulty = new FaultyStore(new MemoryStore({ clock }));
        faulty.failAppendsAfter(stream, crashAfter);
        const first = await Platform.start(bank, { store: faulty.store, clock, leaseTtlMs: 1000, owner: 'first', ...quiet });
        for (const input of inputs) await first.append('transfers', input);
        await first.settle();
        const crashed = first.failure() !== undefined;
        await first.stop();
        // A crashed machine never releases its lease: make it expire, then a new instance takes over.
        faulty.heal();
        clock.advance(2000);
        const second = await Platform.start(bank, { store: faulty.store, clock, owner: 'second', ...quiet });
        await second.settle();
        expect(second.failure()).toBeUndefined();
        await second.stop();
        await expectOutputsOf(faulty.store, expected);
        if (crashAfter < 20) expect(crashed).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('rides out store faults (no answer, or a lost reply after the write) without losing or repeating output', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 60 }),
        fc.constantFrom('ledger', 'balances'),
        fc.constantFrom('unavailable' as const, 'reply-lost' as const),
        fc.integer({ min: 1, max: 4 }),
        async (seed, faultAfter, stream, kind, times) => {
          const inputs = bankInputs(seed, 60);
          const expected = await reference(inputs);
          const faulty = new FaultyStore(new MemoryStore());
          faulty.failAppendsAfter(stream, faultAfter, kind, times);
          const log = new MemoryLog();
          const platform = await Platform.start(bank, { store: faulty.store, log, backoff: { baseMs: 1, capMs: 2 }, ...quiet });
          for (const input of inputs) await platform.append('transfers', input);
          await platform.settle();
          expect(platform.failure()).toBeUndefined();
          const faults = platform.status().processes.reduce((n, p) => n + p.faults, 0);
          // Every fault costs a restart, but appends are pipelined: several that fail while in flight together cost one.
          expect(faults).toBeLessThanOrEqual(faulty.faultsInjected);
          if (faulty.faultsInjected > 0) expect(faults).toBeGreaterThan(0);
          expect(log.ofKind('runner.fault')).toHaveLength(faults);
          await platform.stop();
          await expectOutputsOf(faulty.store, expected);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('stops at an append the store refuses at once, before a later input of another shard lands (a found counterexample)', async () => {
    // Found by the property test above when the runner stopped awaiting after each event: later
    // inputs' outputs to other ledger shards landed before the restart, and the balances saw the
    // ledger in another order than the uninterrupted run.
    const inputs = bankInputs(4926, 60);
    const expected = await reference(inputs);
    const faulty = new FaultyStore(new MemoryStore());
    faulty.failAppendsAfter('ledger', 17, 'unavailable', 3);
    const platform = await Platform.start(bank, { store: faulty.store, log: new MemoryLog(), backoff: { baseMs: 1, capMs: 2 }, ...quiet });
    for (const input of inputs) await platform.append('transfers', input);
    await platform.settle();
    expect(platform.failure()).toBeUndefined();
    await platform.stop();
    await expectOutputsOf(faulty.store, expected);
  });

  it('keeps every bank invariant on the way', async () => {
    const store = new MemoryStore();
    const platform = await Platform.start(bank, { store, ...quiet });
    for (const input of bankInputs(99, 200)) {
      await platform.append('transfers', input);
      await platform.settle();
      for (const inv of bank.invariants) expect(inv.check(platform.view()), inv.name).toBeUndefined();
    }
    expect(platform.view().keys(ledger).length).toBeGreaterThan(0);
    await platform.stop();
  });
});
