/**
 * Switch-over (src/runtime/switch-over.ts): a running bank moves its ledger, and the balances
 * downstream, to a fixed version while transfers keep arriving. After the flip the switched streams
 * read as a fault-free run of the fixed app over every input; the old version is left as it was at
 * the flip; each effect of an input is performed once, by the old version before the flip and the new
 * one after; a platform started later on the store runs the new version from where it stopped, and the
 * old code is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore, Platform, type AppDef, type EventStore, type StoredEvent } from 'spive';
import { StatsCatalogue } from '../../analyzer/catalogue/catalogue.ts';
import { storeHistory } from '../../analyzer/catalogue/store-source.ts';
import { planReplay } from '../../analyzer/plan.ts';
import type { CostModel } from '../../analyzer/types.ts';
import { ALL_SHARDS } from '../../src/model/shard.ts';
import { runReplay } from '../../src/replay/engine.ts';
import { currentGeneration, GENERATIONS_STREAM } from '../../src/replay/generation-record.ts';
import { checkPlan, jobOf } from '../../src/replay/plan-file.ts';
import { switchedGeneration } from '../../src/runtime/switch-over.ts';
import { realClock } from '../../src/time/clock.ts';
import type { EffectCall } from '../../src/app/define.ts';
import { bankVariant } from '../replay/fixtures/bank-variant.ts';
import { balancesOf, freshRun, manyAccountInputs, type Shards } from '../replay/helpers.ts';
import type { BankInput } from '../examples/bank-inputs.ts';
import { FaultyStore } from '../helpers/faulty-store.ts';

const FIXED: Omit<CostModel, 'process'> = { nsPerEvent: 2000, nsPerByte: 10, nsPerSnapshotByte: 10, nsPerSnapshot: 20_000, nsPerShard: 10_000, source: 'default', samples: 0 };
const costs = new Map(['ledger', 'balances'].map((p) => [p, { process: p, ...FIXED }]));

/** Records every effect performed, by idempotency key. */
function recordingGateway() {
  const performed: string[] = [];
  return { performed, impl: { perform: async (_request: unknown, call: EffectCall) => void performed.push(call.idempotencyKey) } };
}

async function append(platform: Platform, inputs: readonly BankInput[]): Promise<void> {
  for (const e of inputs) await platform.append('transfers', { type: e.type, data: e.data, time: e.time });
}

/** Every shard of a stream as read through `store` (a generation's view or the plain store). */
async function shards(store: EventStore, stream: string): Promise<Shards> {
  const keys = new Set<string>();
  for await (const batch of store.readStream(stream)) for (const e of batch) if (!e.key.startsWith('$')) keys.add(e.key);
  const out: Shards = new Map();
  for (const key of [...keys].sort()) {
    const events: StoredEvent[] = [];
    for await (const batch of store.readShard(stream, key)) events.push(...batch);
    out.set(key, events.filter((e) => !e.type.startsWith('$')).map((e) => ({ type: e.type, data: e.data, m: e.meta?.m })));
  }
  return out;
}

async function plainShards(store: EventStore, stream: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const batch of store.readStream(stream)) out.push(...batch);
  return out;
}

/** Plans the ledger's change and replays the ledger alone (the switch-over rebuilds the downstream itself), as `spive run` runs a handed-over plan. */
async function replayLedger(store: EventStore, fixed: AppDef, since: number | null): Promise<void> {
  const catalogue = await StatsCatalogue.open(null);
  let plan;
  try {
    await catalogue.update(storeHistory(store));
    plan = await planReplay({ store, catalogue, app: fixed, appFile: 'bank-variant.ts', appVersion: 'bank-v2', process: 'ledger', since, keys: null, costs });
  } finally {
    catalogue.close();
  }
  await runReplay({ store, app: fixed, appVersion: 'bank-v2', job: { ...jobOf(checkPlan(plan, 'plan')), downstream: [] }, clock: realClock });
}

interface Scenario {
  readonly seed: number;
  /** Inputs before the replay, and after it (during the switch-over). */
  readonly before: number;
  readonly during: number;
  /** Where the change starts, as a fraction of the inputs before the replay (null: from the beginning). */
  readonly since: number | null;
  readonly snapshotEvery: number;
}

async function scenario(s: Scenario) {
  const inputs = manyAccountInputs(s.seed, s.before + s.during, 12);
  const since = s.since === null ? null : Math.floor(s.since * s.before);
  const old = bankVariant({ ledgerVersion: 'old', limitSince: null, snapshotEvery: s.snapshotEvery }).app as AppDef;
  const fixed = bankVariant({ ledgerVersion: 'new', limitSince: since ?? 0, snapshotEvery: s.snapshotEvery }).app as AppDef;
  const store = new MemoryStore();
  const effects = recordingGateway();
  const platform = await Platform.start(old, { store, version: 'bank-v1', idle: false, ingressIdle: false, gateways: { notifications: effects.impl as never } });
  await append(platform, inputs.slice(0, s.before));
  await platform.settle({ timeoutMs: 60_000 });

  await replayLedger(store, fixed, since);

  // Transfers keep arriving while the new version catches up and takes over.
  const arriving = append(platform, inputs.slice(s.before));
  const result = await platform.switchOver({ app: fixed, appVersion: 'bank-v2', process: 'ledger', generation: 'new', fromVersion: 'old', since });
  await arriving;
  await platform.settle({ timeoutMs: 60_000 });
  const baseAfter = { ledger: await plainShards(store, 'ledger'), balances: await plainShards(store, 'balances') };
  const view = platform.view();
  const balancesDef = fixed.processes.find((p) => p.name === 'balances');
  const liveBalances = new Map(view.keys(balancesDef as never).map((k) => [k, (view.state(balancesDef as never, k) as { balance: number }).balance]));
  return { inputs, since, old, fixed, store, effects, platform, result, baseAfter, liveBalances };
}

describe('switch-over', () => {
  it('switches a running bank to the fixed ledger while transfers arrive: the new version reads as a fresh run of it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 1000 }),
          before: fc.integer({ min: 60, max: 200 }),
          during: fc.integer({ min: 0, max: 120 }),
          since: fc.option(fc.double({ min: 0.2, max: 0.95, noNaN: true }), { nil: null }),
          snapshotEvery: fc.constantFrom(15, 40),
        }),
        async (s) => {
          const r = await scenario(s);
          try {
            expect(r.result.streams).toEqual(['ledger', 'balances']);
            const reference = await freshRun(r.fixed, r.inputs);
            const generation = await switchedGeneration(r.store, r.fixed, 'bank-v2', ALL_SHARDS);
            expect(generation).not.toBeNull();
            const g = generation as NonNullable<typeof generation>;
            // The changed process: exactly the fresh run, merged input numbers included.
            expect(await shards(g, 'ledger')).toEqual(reference.ledger);
            // Downstream: the same final balances, in the stream and in the running state.
            const balances = await shards(g, 'balances');
            expect(balancesOf(balances)).toEqual(balancesOf(reference.balances));
            for (const [k, v] of reference.finalBalances) expect(r.liveBalances.get(k) ?? 0).toBe(v);
            // Effects: none performed twice (an idempotency key names an input and a process).
            expect(new Set(r.effects.performed).size).toBe(r.effects.performed.length);
          } finally {
            await r.platform.stop();
          }
        },
      ),
      { numRuns: 6, seed: 7 },
    );
  });

  it('keeps the old version as it was at the flip, and a later platform runs the new version from the store', async () => {
    const r = await scenario({ seed: 3, before: 150, during: 60, since: 0.6, snapshotEvery: 15 });
    const record = await currentGeneration(r.store);
    expect(record).toMatchObject({ generation: 'new', process: 'ledger', since: r.since, streams: { ledger: 'ledger', balances: 'balances' }, oldVersions: { ledger: 'old', balances: 'bank-v1' }, newVersions: { ledger: 'new', balances: 'bank-v2' } });
    // Nothing was written to the base streams after the flip.
    expect((await plainShards(r.store, 'ledger')).length).toBe(r.baseAfter.ledger.length);
    expect(Math.max(...r.baseAfter.ledger.map((e) => e.position))).toBe(record?.baseLast.ledger);
    await r.platform.stop();

    // The old code may not write a switched stream any more.
    await expect(Platform.start(r.old, { store: r.store, version: 'bank-v1', idle: false, ingressIdle: false })).rejects.toThrow(/switched over to its version new .*run the app with the new code/);
    // The new code continues: more transfers are reflected once, as in a fresh run over all inputs.
    const more = manyAccountInputs(99, 40, 12).map((e, i) => ({ ...e, time: r.inputs.length + i, data: { ...e.data, ...(typeof e.data.id === 'string' ? { id: `late-${e.data.id}` } : {}) } }));
    const effects = recordingGateway();
    const again = await Platform.start(r.fixed, { store: r.store, version: 'bank-v2', idle: false, ingressIdle: false, gateways: { notifications: effects.impl as never } });
    try {
      await append(again, more);
      await again.settle({ timeoutMs: 60_000 });
      const reference = await freshRun(r.fixed, [...r.inputs, ...more]);
      const g = (await switchedGeneration(r.store, r.fixed, 'bank-v2', ALL_SHARDS)) as NonNullable<Awaited<ReturnType<typeof switchedGeneration>>>;
      expect(await shards(g, 'ledger')).toEqual(reference.ledger);
      // Only the new inputs' effects were performed by the restarted platform.
      for (const key of effects.performed) expect(Number(/@(\d+)\//.exec(key)?.[1])).toBeGreaterThan(Math.max(...r.baseAfter.ledger.map((e) => e.position)));
      expect((await plainShards(r.store, GENERATIONS_STREAM)).length).toBe(1);
    } finally {
      await again.stop();
    }
  });

  it('a new version that fails while catching up leaves the old one serving and nothing switched', async () => {
    const inputs = manyAccountInputs(5, 120, 8);
    const old = bankVariant({ ledgerVersion: 'old', limitSince: null, snapshotEvery: 15 }).app as AppDef;
    const fixed = bankVariant({ ledgerVersion: 'new', limitSince: 60, snapshotEvery: 15 }).app as AppDef;
    // The new ledger has a bug: it throws on transfers (a handler bug stops its runner).
    const broken: AppDef = {
      ...fixed,
      processes: fixed.processes.map((p) => (p.name !== 'ledger' ? p : { ...p, handlers: p.handlers.map((h) => ({ ...h, TransferRequested: () => { throw new Error('planted bug'); } })) })),
    };
    const store = new MemoryStore();
    const platform = await Platform.start(old, { store, version: 'bank-v1', idle: false, ingressIdle: false });
    try {
      await append(platform, inputs.slice(0, 100));
      await platform.settle({ timeoutMs: 60_000 });
      const steps: string[] = [];
      await expect(platform.switchOver({ app: broken, appVersion: 'bank-v2', process: 'ledger', generation: 'new', fromVersion: 'old', since: 60, onStep: (m) => steps.push(m) })).rejects.toThrow(/ledger@new is failed .*planted bug/);
      expect(steps.at(-1)).toMatch(/the old version serves again/);
      expect(await currentGeneration(store)).toBeUndefined();
      // The old version takes what comes next.
      await append(platform, inputs.slice(100));
      await platform.settle({ timeoutMs: 60_000 });
      expect(platform.status().processes.map((p) => [p.process, p.version, p.mode])).toEqual([
        ['ledger', 'old', 'live'],
        ['balances', 'bank-v1', 'live'],
      ]);
      const reference = await freshRun(old, inputs);
      expect(await shards(store, 'ledger')).toEqual(reference.ledger);
    } finally {
      await platform.stop();
    }
  });

  it('hardware faults while the new version catches up (lost replies, no answers) are retried; the result is the same', async () => {
    const cases = [
      ['balances--new', 'reply-lost'],
      ['balances--new', 'unavailable'],
      ['ledger--new', 'reply-lost'],
    ] as const;
    for (const [stream, kind] of cases) {
      const inputs = manyAccountInputs(11, 200, 10);
      const since = 90;
      const old = bankVariant({ ledgerVersion: 'old', limitSince: null, snapshotEvery: 15 }).app as AppDef;
      const fixed = bankVariant({ ledgerVersion: 'new', limitSince: since, snapshotEvery: 15 }).app as AppDef;
      const faulty = new FaultyStore(new MemoryStore());
      const store = faulty.store;
      const platform = await Platform.start(old, { store, version: 'bank-v1', idle: false, ingressIdle: false, backoff: { baseMs: 1, capMs: 20 } });
      try {
        await append(platform, inputs.slice(0, 150));
        await platform.settle({ timeoutMs: 60_000 });
        await replayLedger(store, fixed, since);
        // The new versions fork and append while the switch-over runs (the ledger's for the inputs still arriving): some of those appends fail.
        faulty.failAppendsAfter(stream, 3, kind, 4);
        const arriving = append(platform, inputs.slice(150));
        await platform.switchOver({ app: fixed, appVersion: 'bank-v2', process: 'ledger', generation: 'new', fromVersion: 'old', since });
        await arriving;
        await platform.settle({ timeoutMs: 60_000 });
        expect(faulty.faultsInjected, `${stream} ${kind}`).toBeGreaterThan(0);
        const reference = await freshRun(fixed, inputs);
        const g = (await switchedGeneration(store, fixed, 'bank-v2', ALL_SHARDS)) as NonNullable<Awaited<ReturnType<typeof switchedGeneration>>>;
        expect(await shards(g, 'ledger'), kind).toEqual(reference.ledger);
        expect(balancesOf(await shards(g, 'balances')), kind).toEqual(balancesOf(reference.balances));
      } finally {
        await platform.stop();
      }
    }
  });
});
