/**
 * The replay engine on memory stores, planned by the real planner: for any bank history, any change
 * time and any applicable strategy, the new version's views of the ledger and of the balances
 * downstream equal a fault-free run of the new app on the same inputs (fast-check). Plus the pieces:
 * the merged numbering, version views and their reader, resuming a partly written shard, and
 * verification of the shards the plan left alone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore, type EventStore } from 'spive';
import { StatsCatalogue } from '../../analyzer/catalogue/catalogue.ts';
import { storeHistory } from '../../analyzer/catalogue/store-source.ts';
import { planReplay } from '../../analyzer/plan.ts';
import type { CostModel, ReplayPlan, StrategyName } from '../../analyzer/types.ts';
import { IncompleteShardError, readFork, readVersion } from '../../src/replay/fork.ts';
import { mergedNumbers } from '../../src/replay/numbering.ts';
import { FORK_EVENT, versionedStreamName } from '../../src/replay/naming.ts';
import { checkPlan, jobOf } from '../../src/replay/plan-file.ts';
import { runReplay } from '../../src/replay/engine.ts';
import type { RoutePolicy } from '../../src/replay/shard-inputs.ts';
import { MemoryTaskClaims } from '../../src/replay/task-claims.ts';
import { realClock } from '../../src/time/clock.ts';
import { bankVariant } from './fixtures/bank-variant.ts';
import { balancesOf, freshRun, inputsFor, readView, runApp, typesAndData } from './helpers.ts';

const FIXED: Omit<CostModel, 'process'> = { nsPerEvent: 2000, nsPerByte: 10, nsPerSnapshotByte: 10, nsPerSnapshot: 20_000, nsPerShard: 10_000, source: 'default', samples: 0 };
const costs = new Map(['ledger', 'balances'].map((p) => [p, { process: p, ...FIXED }]));

interface Scenario {
  readonly seed: number;
  readonly n: number;
  readonly snapshotEvery: number;
  /** Fraction of the history at which the fix starts (null: from the beginning, no --since). */
  readonly since: number | null;
}

async function oldStore(s: Scenario): Promise<MemoryStore> {
  const store = new MemoryStore();
  const platform = await runApp(bankVariant({ ledgerVersion: 'old', limitSince: null, snapshotEvery: s.snapshotEvery }).app, store, inputsFor(s.seed, s.n), 'bank-v1');
  await platform.stop();
  return store;
}

async function plan(store: EventStore, app: ReturnType<typeof bankVariant>['app'], request: { since: number | null; keys?: string; strategy?: StrategyName }): Promise<ReplayPlan> {
  const catalogue = await StatsCatalogue.open(null);
  try {
    await catalogue.update(storeHistory(store));
    return await planReplay({ store, catalogue, app, appFile: 'bank-variant.ts', appVersion: 'bank-v2', process: 'ledger', since: request.since, keys: request.keys ?? null, costs, ...(request.strategy === undefined ? {} : { strategy: request.strategy }) });
  } finally {
    catalogue.close();
  }
}

/** Scan and route every input and base stream, however small (shard-inputs.ts); false: read every shard on its own. */
const ALWAYS_SCAN: RoutePolicy = { minEvents: 0, minShare: 0, maxEvents: Number.POSITIVE_INFINITY };

async function replay(store: EventStore, app: ReturnType<typeof bankVariant>['app'], p: ReplayPlan, options: { verify?: number; listEffects?: boolean; route?: RoutePolicy | false } = {}) {
  return runReplay({ store, app, appVersion: 'bank-v2', job: jobOf(checkPlan(p, 'plan')), clock: realClock, verify: options.verify ?? false, listEffects: options.listEffects ?? false, route: options.route ?? false });
}

/** Every event of a stream, in order, as written. */
async function everything(store: EventStore, stream: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const batch of store.readStream(stream)) for (const e of batch) out.push([e.key, e.seq, e.type, e.time, e.data, e.meta]);
  return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('replay engine', () => {
  it('gives the views of a fault-free run of the new version, for any history, change time and strategy', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ seed: fc.integer({ min: 1, max: 1000 }), n: fc.integer({ min: 40, max: 260 }), snapshotEvery: fc.constantFrom(15, 40), since: fc.option(fc.double({ min: 0.2, max: 0.95, noNaN: true }), { nil: null }) }),
        fc.constantFrom<StrategyName | undefined>(undefined, 'shards-from-scratch', 'time-ray-from-snapshot', 'per-shard-mix', 'full-rebuild'),
        fc.boolean(),
        async (s, strategy, scan) => {
          const store = await oldStore(s);
          const since = s.since === null ? null : Math.floor(s.since * (s.n - 1));
          const next = bankVariant({ ledgerVersion: 'new', limitSince: since ?? 0, snapshotEvery: s.snapshotEvery });
          const p = await plan(store, next.app, { since }).catch(() => undefined);
          if (p === undefined) return;
          const forced = strategy !== undefined && p.strategies.find((r) => r.name === strategy)?.applicable === true ? await plan(store, next.app, { since, strategy }) : p;
          const result = await replay(store, next.app, forced, { route: scan ? ALWAYS_SCAN : false });
          expect(result.strategy).toBe(forced.chosen);
          const reference = await freshRun(next.app, inputsFor(s.seed, s.n));
          const ledger = await readView(store, 'ledger', 'new');
          const balances = await readView(store, 'balances', 'new');
          expect(ledger).toEqual(reference.ledger);
          expect(typesAndData(balances)).toEqual(typesAndData(reference.balances));
          expect(balancesOf(balances)).toEqual(reference.finalBalances);
          // A second run finds every shard complete and changes nothing.
          const again = await replay(store, next.app, forced);
          expect(again.resumedShards).toBe(again.shards);
          expect(again.eventsWritten).toBe(0);
        },
      ),
      { numRuns: 8, seed: 42 },
    );
  });

  it('writes the same streams and effects whether it scans inputs and base streams once or reads each shard', async () => {
    for (const seed of [5, 6]) {
      const s = { seed, n: 220, snapshotEvery: 15, since: 0.5 };
      const since = Math.floor(0.5 * (s.n - 1));
      const next = bankVariant({ ledgerVersion: 'new', limitSince: since, snapshotEvery: s.snapshotEvery });
      const scanned = await oldStore(s);
      const perShard = await oldStore(s);
      const p = await plan(scanned, next.app, { since, strategy: 'per-shard-mix' });
      const a = await replay(scanned, next.app, p, { route: ALWAYS_SCAN, listEffects: true });
      const b = await replay(perShard, next.app, p, { route: false, listEffects: true });
      expect(a.eventsWritten).toBeGreaterThan(0);
      expect(a.eventsWritten).toBe(b.eventsWritten);
      for (const stream of ['ledger--new', 'balances--new']) expect(await everything(scanned, stream)).toEqual(await everything(perShard, stream));
      const keys = (r: typeof a) => r.effects.map((e) => e.idempotencyKey).sort();
      expect(keys(a)).toEqual(keys(b));
      // Scanning reads whole streams: more events read, fewer shard reads.
      expect(a.eventsRead).toBeGreaterThanOrEqual(b.eventsRead);
    }
  });

  it('three replays sharing claimed tasks on one store write what one replay writes', async () => {
    const s = { seed: 9, n: 240, snapshotEvery: 15, since: 0.4 };
    const since = Math.floor(0.4 * (s.n - 1));
    const next = bankVariant({ ledgerVersion: 'new', limitSince: since, snapshotEvery: s.snapshotEvery });
    const shared = await oldStore(s);
    const alone = await oldStore(s);
    const p = await plan(shared, next.app, { since, strategy: 'per-shard-mix' });
    const claims = new MemoryTaskClaims();
    const job = jobOf(checkPlan(p, 'plan'));
    const runs = await Promise.all([0, 1, 2].map(() => runReplay({ store: shared, app: next.app, appVersion: 'bank-v2', job, clock: realClock, claims, claimBatch: 2 })));
    const single = await replay(alone, next.app, p);
    for (const stream of ['ledger--new', 'balances--new']) expect(await everything(shared, stream)).toEqual(await everything(alone, stream));
    // Every task ran exactly once, somewhere: the shards add up, and more than one replay did some.
    for (const i of [0, 1]) expect(runs.reduce((n, r) => n + (r.processes[i]?.shards ?? 0), 0)).toBe(single.processes[i]?.shards);
    expect(runs.filter((r) => (r.processes[0]?.shards ?? 0) > 0).length).toBeGreaterThan(1);
    expect(runs.reduce((n, r) => n + r.eventsWritten, 0)).toBe(single.eventsWritten);
  });

  it('continues a shard an interrupted run left half-written, without duplicates', async () => {
    const s = { seed: 3, n: 200, snapshotEvery: 40, since: null };
    const next = bankVariant({ ledgerVersion: 'new', limitSince: 0 });
    const done = await oldStore(s);
    await replay(done, next.app, await plan(done, next.app, { since: null }));
    const stream = versionedStreamName('ledger', 'new');
    const full: Array<{ type: string; time: number; data: unknown; meta?: Record<string, unknown> }> = [];
    for await (const batch of done.readShard(stream, 'a1')) for (const e of batch) full.push({ type: e.type, time: e.time, data: e.data, ...(e.meta === undefined ? {} : { meta: e.meta as Record<string, unknown> }) });
    expect(full[0]?.type).toBe(FORK_EVENT);
    expect(full.length).toBeGreaterThan(5);

    // Another copy of the history, where a killed run wrote a1's fork record and a few events only.
    const victim = await oldStore(s);
    await victim.append(stream, 'a1', full.slice(0, 4) as never, { expect: { lastSeq: 0 } });
    await expect(async () => {
      for await (const _ of readVersion(victim, 'ledger', 'new', 'a1'));
    }).rejects.toBeInstanceOf(IncompleteShardError);
    expect((await readFork(victim, stream, 'a1'))?.complete).toBe(false);
    const result = await replay(victim, next.app, await plan(victim, next.app, { since: null }));
    expect(result.resumedShards).toBeGreaterThanOrEqual(1);
    expect(await readView(victim, 'ledger', 'new')).toEqual(await readView(done, 'ledger', 'new'));
    expect(typesAndData(await readView(victim, 'balances', 'new'))).toEqual(typesAndData(await readView(done, 'balances', 'new')));
  });

  it('refuses to continue a half-written shard whose fork differs (the plan or app changed), naming it', async () => {
    const s = { seed: 4, n: 120, snapshotEvery: 40, since: null };
    const next = bankVariant({ ledgerVersion: 'new', limitSince: 0 });
    const store = await oldStore(s);
    const stream = versionedStreamName('ledger', 'new');
    await store.append(stream, 'a2', [{ type: FORK_EVENT, time: 0, data: { base: 'ledger', baseSeq: 0, count: 99, process: 'ledger', fromVersion: null, toVersion: 'new', mode: 'scratch', snapshotM: null } }]);
    await expect(replay(store, next.app, await plan(store, next.app, { since: null }))).rejects.toThrow(/ledger--new\/a2.*earlier, interrupted replay/);
  });

  it('--verify: passes when shards outside the affected set are unchanged, and names the first difference when not', async () => {
    const s = { seed: 5, n: 240, snapshotEvery: 40, since: null };
    // A correct claim: only a0's behaviour changes, so a1..a5 are unchanged.
    const honest = bankVariant({ ledgerVersion: 'new', limitSince: 0, accounts: ['a0'] });
    const a = await oldStore(s);
    const ok = await replay(a, honest.app, await plan(a, honest.app, { since: null, keys: "key = 'a0'" }), { verify: 10 });
    expect(ok.verify).toMatchObject({ verified: true, firstDifference: null, shardsCompared: 5, candidates: 5 });
    expect(ok.verify?.eventsCompared).toBeGreaterThan(0);
    // A wrong claim: only a0 is said to change, but the new rule applies to every account from the start.
    const wrong = bankVariant({ ledgerVersion: 'new', limitSince: 0 });
    const b = await oldStore(s);
    const bad = await replay(b, wrong.app, await plan(b, wrong.app, { since: null, keys: "key = 'a0'" }), { verify: 10, listEffects: true });
    expect(bad.verify?.verified).toBe(false);
    expect(bad.verify?.firstDifference?.shard).toMatch(/^a[1-5]$/);
    expect(bad.verify?.firstDifference?.actual?.type).toBe('Rejected');
    expect(bad.suppressedEffects).toBe(bad.effects.length);
    expect(bad.effects.every((e) => e.gateway === 'notifications' && e.idempotencyKey.startsWith('ledger/a0/transfers@'))).toBe(true);
  });

  it('refuses an app whose process version is not the plan\'s', async () => {
    const store = await oldStore({ seed: 6, n: 80, snapshotEvery: 40, since: null });
    const p = await plan(store, bankVariant({ ledgerVersion: 'new', limitSince: 0 }).app, { since: null });
    await expect(replay(store, bankVariant({ ledgerVersion: 'newer', limitSince: 0 }).app, p)).rejects.toThrow(/change.toVersion.*app changed since the plan/);
  });
});

describe('merged numbering', () => {
  it('numbers like the runner: earliest head first, ties by input order, stop when an input runs dry; platform events take no number', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.boolean()), { maxLength: 12 }), { minLength: 1, maxLength: 3 }), (events) => {
        const inputs = events.map((e) => e.map(([t]) => t));
        const times = inputs.map((t) => Float64Array.from(t));
        const platform = events.map((e) => Uint8Array.from(e, ([, p]) => (p ? 1 : 0)));
        const { m, taken } = mergedNumbers(times, platform);
        // Reference: the runner's pickNext loop on plain arrays.
        const next = inputs.map(() => 0);
        const expected = inputs.map((t) => t.map(() => 0));
        let n = 0;
        for (;;) {
          let best = -1;
          for (let i = 0; i < inputs.length; i++) {
            const head = (inputs[i] as number[])[next[i] as number];
            if (head === undefined) {
              best = -2;
              break;
            }
            if (best === -1 || head < ((inputs[best] as number[])[next[best] as number] as number)) best = i;
          }
          if (best < 0) break;
          const isPlatform = (events[best] as Array<[number, boolean]>)[next[best] as number]?.[1] === true;
          (expected[best] as number[])[next[best] as number] = isPlatform ? n + 0.5 : ++n;
          next[best] = (next[best] as number) + 1;
        }
        expect(m.map((a) => [...a])).toEqual(expected);
        expect(taken).toBe(n);
      }),
    );
  });
});

describe('versioned stream names', () => {
  it('are <stream>--<version>, and spell other characters with a hash so that versions never collide', () => {
    expect(versionedStreamName('ledger', 'v2')).toBe('ledger--v2');
    expect(versionedStreamName('ledger', 'src-0123456789ab')).toBe('ledger--src-0123456789ab');
    const a = versionedStreamName('ledger', 'v2@fix');
    const b = versionedStreamName('ledger', 'v2#fix');
    expect(a).toMatch(/^ledger--v2_fix_[0-9a-f]{10}$/);
    expect(a).not.toBe(b);
    expect(versionedStreamName('s', 'x'.repeat(300)).length).toBeLessThanOrEqual(128);
  });
});
