/**
 * The ML feature pipeline example: event-time windows (bounded, order-independent), the pipeline
 * checked against a plain reference computation, effects across a restart, the invariants, and the
 * issue's criteria on a bounded scale — simulation under default faults, fuzzing, determinism. The
 * full campaign (seeds 1..100, 1,000 fuzz runs) is in test/soak.
 */
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryGateway, MemoryStore, Platform, seededRandom, type AppView, type EventStore } from 'spive';
import { fuzz, simulate } from 'spive/sim';
import app, { invariants, itemFeaturesProcess, servingProcess, userFeaturesProcess, type InteractionEvents, type Recommendation, type ServingState } from '../../examples/ml-features/app.ts';
import { itemFeatures, PUSH_THRESHOLD, score, userFeatures, type FeatureVector } from '../../examples/ml-features/model.ts';
import { emptyWindows, LAST_DAY, LAST_HOUR, record, windowCounts, zeroCounts, type Counts, type InteractionKind, type WindowedCounts, type WindowSpec } from '../../examples/ml-features/windows.ts';
import { simulateSeeds } from '../helpers/simulate-seeds.ts';

const SPEC = 'examples/ml-features';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2026, 2, 1);

type Input = { [T in keyof InteractionEvents]: { type: T; data: InteractionEvents[T]; time: number } }[keyof InteractionEvents];
const KIND: Record<Input['type'], InteractionKind> = { Viewed: 'view', Clicked: 'click', Purchased: 'purchase' };

function input(type: Input['type'], id: string, user: string, item: string, time: number): Input {
  return { type, data: { id, user, item }, time };
}

// ---------------------------------------------------------------- a reference computation

/**
 * A window, defined directly: the events seen so far whose bucket is one of the window's last
 * `buckets` buckets, counted back from the bucket of the latest event time seen.
 */
function countWindow(events: ReadonlyArray<{ kind: InteractionKind; time: number }>, spec: WindowSpec): Counts {
  const counts = zeroCounts();
  if (events.length === 0) return counts;
  const latest = Math.max(...events.map((e) => e.time));
  const oldest = Math.floor(latest / spec.bucketMs) - spec.buckets + 1;
  for (const e of events) if (Math.floor(e.time / spec.bucketMs) >= oldest) counts[e.kind]++;
  return counts;
}

function countAll(events: ReadonlyArray<{ kind: InteractionKind }>): Counts {
  const counts = zeroCounts();
  for (const e of events) counts[e.kind]++;
  return counts;
}

/** What the pipeline should emit and end with, for inputs handled one at a time in this order. */
function reference(inputs: readonly Input[]) {
  const byUser = new Map<string, Array<{ kind: InteractionKind; time: number }>>();
  const byItem = new Map<string, Array<{ kind: InteractionKind; time: number }>>();
  const scores: Array<{ id: string; score: number }> = [];
  const pushes: string[] = [];
  for (const e of inputs) {
    const kind = KIND[e.type];
    const { id, user, item } = e.data;
    const us = byUser.get(user) ?? [];
    const is = byItem.get(item) ?? [];
    us.push({ kind, time: e.time });
    is.push({ kind, time: e.time });
    byUser.set(user, us);
    byItem.set(item, is);
    const p = score({ user: userFeatures(countWindow(us, LAST_HOUR), countWindow(us, LAST_DAY)), item: itemFeatures(countWindow(is, LAST_HOUR), countWindow(is, LAST_DAY)) });
    scores.push({ id, score: p });
    if (p >= PUSH_THRESHOLD && kind !== 'purchase') pushes.push(`${user}|${item}|${p}`);
  }
  const totals = (m: Map<string, Array<{ kind: InteractionKind }>>) => Object.fromEntries([...m].map(([k, es]) => [k, countAll(es)]));
  return { scores, pushes: pushes.sort(), userTotals: totals(byUser), itemTotals: totals(byItem) };
}

// ---------------------------------------------------------------- helpers

async function start(store: EventStore, gateway: MemoryGateway<Recommendation>): Promise<Platform> {
  return Platform.start(app, { store, version: 'v1', idle: false, ingressIdle: false, gateways: { recommendations: gateway } });
}

/** Waits until everything appended is handled (one macrotask turn first: see test/examples/game.test.ts). */
async function settle(platform: Platform): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await platform.settle();
}

/**
 * Appends inputs one at a time, each handled through the whole pipeline before the next: then every
 * shard sees its inputs in this order, and the reference's scores are exact.
 */
async function feedInOrder(platform: Platform, inputs: readonly Input[]): Promise<void> {
  for (const e of inputs) {
    await platform.append('interactions', e);
    await settle(platform);
  }
}

async function scored(store: EventStore): Promise<Array<{ id: string; score: number }>> {
  const out: Array<{ position: number; id: string; score: number }> = [];
  for await (const batch of store.readStream('scores')) {
    for (const e of batch) {
      if (e.type !== 'Scored') continue;
      const d = e.data as { interaction: { id: string }; score: number };
      out.push({ position: e.position, id: d.interaction.id, score: d.score });
    }
  }
  return out.sort((a, b) => a.position - b.position).map(({ id, score: s }) => ({ id, score: s }));
}

function pushes(gateway: MemoryGateway<Recommendation>): string[] {
  return [...gateway.performed.values()].map((r) => `${r.user}|${r.item}|${r.score}`).sort();
}

function violations(view: AppView): string[] {
  return invariants.flatMap((inv) => {
    const message = inv.check(view);
    return message === undefined ? [] : [`${inv.name}: ${message}`];
  });
}

/** A view over hand-made states, for checking that the invariants catch what they claim to. */
function fakeView(states: { users?: Record<string, WindowedCounts>; items?: Record<string, WindowedCounts>; serving?: Record<string, ServingState> }): AppView {
  const of = (name: string): Record<string, unknown> => (name === userFeaturesProcess.name ? states.users : name === itemFeaturesProcess.name ? states.items : states.serving) ?? {};
  return {
    state: (p, key) => (of(p.name)[key] ?? p.initial(key)) as never,
    keys: (p) => Object.keys(of(p.name)).sort(),
  };
}

/** The app's own workload, made by hand: n interactions `spacingMs` apart, from few users. */
function workloadInputs(n: number, seed: number, spacingMs: number): Input[] {
  const workload = app.workload;
  if (workload === undefined) throw new Error('the example declares a workload');
  const random = seededRandom(seed);
  const out: Input[] = [];
  for (let i = 0; i < n; i++) {
    const time = T0 + i * spacingMs;
    const e = workload.make({ i, key: `user-${Math.floor(8 * random.float() ** 2)}`, time, random });
    if (e === undefined) continue;
    expect(e.stream.name).toBe('interactions');
    out.push({ type: e.type, data: e.data, time } as Input);
  }
  return out;
}

/**
 * A heavy session of `user` with one item: 24 interactions a minute apart — views and clicks, and a
 * purchase every eighth. Its last scores pass PUSH_THRESHOLD.
 */
function session(user: string, item: string, from: number, prefix: string): Input[] {
  return Array.from({ length: 24 }, (_, i) => input(i % 8 === 7 ? 'Purchased' : i % 2 === 0 ? 'Viewed' : 'Clicked', `${prefix}${i}`, user, item, from + i * MINUTE));
}

// ---------------------------------------------------------------- tests

describe('examples/ml-features: event-time windows', () => {
  it('count the last hour and the last day, and keep only their buckets', () => {
    const w = emptyWindows();
    const seen: Array<{ kind: InteractionKind; time: number }> = [];
    for (let i = 0; i < 200; i++) {
      const kind = (['view', 'click', 'purchase'] as const)[i % 3] as InteractionKind;
      const time = T0 + i * 23 * MINUTE; // three days and more
      record(w, kind, time);
      seen.push({ kind, time });
      expect(windowCounts(w.hour)).toEqual(countWindow(seen, LAST_HOUR));
      expect(windowCounts(w.day)).toEqual(countWindow(seen, LAST_DAY));
      expect(w.total).toEqual(countAll(seen));
      expect(Object.keys(w.hour).length).toBeLessThanOrEqual(LAST_HOUR.buckets);
      expect(Object.keys(w.day).length).toBeLessThanOrEqual(LAST_DAY.buckets);
    }
    expect(w.total.view).toBe(67);
    expect(windowCounts(w.day).view + windowCounts(w.day).click + windowCounts(w.day).purchase).toBeLessThan(200);
  });

  it('count a late event in the totals, and in the windows its time still falls in', () => {
    const w = emptyWindows();
    const latest = T0 + 48 * HOUR;
    record(w, 'view', latest);
    record(w, 'view', latest - 30 * MINUTE); // late, but within the hour
    record(w, 'view', latest - 3 * HOUR); // within the day only
    record(w, 'view', latest - 30 * HOUR); // older than both windows
    expect(w.latestMs).toBe(latest);
    expect(windowCounts(w.hour).view).toBe(2);
    expect(windowCounts(w.day).view).toBe(3);
    expect(w.total.view).toBe(4);
  });

  it('end in the same state whatever order the events arrive in', () => {
    const event = fc.record({ kind: fc.constantFrom<InteractionKind>('view', 'click', 'purchase'), time: fc.integer({ min: T0, max: T0 + 72 * HOUR }) });
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 60 }).chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length }))),
        ([events, shuffled]) => {
          const inOrder = emptyWindows();
          for (const e of [...events].sort((a, b) => a.time - b.time)) record(inOrder, e.kind, e.time);
          const anyOrder = emptyWindows();
          for (const e of shuffled) record(anyOrder, e.kind, e.time);
          expect(anyOrder).toEqual(inOrder);
          expect(windowCounts(anyOrder.hour)).toEqual(countWindow(events, LAST_HOUR));
          expect(windowCounts(anyOrder.day)).toEqual(countWindow(events, LAST_DAY));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('examples/ml-features: the pipeline', () => {
  it('joins the user\'s and the item\'s features, scores them and pushes recommendations for high scores', async () => {
    const store = new MemoryStore();
    const gateway = new MemoryGateway<Recommendation>();
    const platform = await start(store, gateway);
    const inputs = [
      input('Viewed', 'a1', 'ann', 'book', T0),
      input('Viewed', 'b1', 'bob', 'book', T0 + MINUTE),
      input('Clicked', 'a2', 'ann', 'book', T0 + 2 * MINUTE),
      ...session('cyd', 'lamp', T0 + 10 * MINUTE, 'c'),
      input('Viewed', 'a3', 'ann', 'lamp', T0 + 2 * HOUR), // ann's hour has rolled; her day has not
    ];
    await feedInOrder(platform, inputs);

    const vectors: Record<string, unknown> = {};
    for await (const batch of store.readStream('feature-vectors')) for (const e of batch) if (e.type === 'FeaturesJoined') vectors[(e.data as { interaction: { id: string } }).interaction.id] = e.data;
    // bob's view of the book: his first interaction, the book's second view (ann's came first).
    expect(vectors['b1']).toEqual({
      interaction: { id: 'b1', user: 'bob', item: 'book', kind: 'view' },
      vector: { user: { views1h: 1, clicks1h: 0, purchases1d: 0, clickRate1d: 0 }, item: { views1h: 2, clicks1h: 0, purchases1d: 0, conversion1d: 0 } },
    });
    expect(vectors['a3']).toMatchObject({ vector: { user: { views1h: 1, clicks1h: 0, purchases1d: 0, clickRate1d: 0.5 } } });

    const want = reference(inputs);
    expect(await scored(store)).toEqual(want.scores);
    expect(pushes(gateway)).toEqual(want.pushes);
    expect(want.pushes.length).toBeGreaterThan(0);
    expect([...gateway.performed.values()].every((r) => r.user === 'cyd' && r.score >= PUSH_THRESHOLD)).toBe(true);

    const view = platform.view();
    expect(view.state(userFeaturesProcess, 'ann').total).toEqual({ view: 2, click: 1, purchase: 0 });
    expect(Object.fromEntries(view.keys(itemFeaturesProcess).map((k) => [k, view.state(itemFeaturesProcess, k).total]))).toEqual(want.itemTotals);
    expect(Object.fromEntries(view.keys(userFeaturesProcess).map((k) => [k, view.state(userFeaturesProcess, k).total]))).toEqual(want.userTotals);
    expect(view.state(servingProcess, 'cyd')).toEqual({ scored: 24, invalidScores: 0 });
    expect(violations(view)).toEqual([]);
    await platform.stop();
  });

  it('matches the reference on the app\'s own workload over many hours', async () => {
    const inputs = workloadInputs(150, 3, 4 * MINUTE); // ten hours: the hour windows roll, the day fills
    const store = new MemoryStore();
    const gateway = new MemoryGateway<Recommendation>();
    const platform = await start(store, gateway);
    await feedInOrder(platform, inputs);
    const want = reference(inputs);
    expect(await scored(store)).toEqual(want.scores);
    expect(pushes(gateway)).toEqual(want.pushes);
    const view = platform.view();
    expect(Object.fromEntries(view.keys(userFeaturesProcess).map((k) => [k, view.state(userFeaturesProcess, k).total]))).toEqual(want.userTotals);
    expect(violations(view)).toEqual([]);
    // The hour windows have rolled: they count less than the totals.
    expect(view.keys(userFeaturesProcess).some((k) => windowCounts(view.state(userFeaturesProcess, k).hour).view < view.state(userFeaturesProcess, k).total.view)).toBe(true);
    // Bounded state: however long the run, a shard holds at most the buckets of its windows.
    for (const p of [userFeaturesProcess, itemFeaturesProcess]) {
      for (const key of view.keys(p)) {
        expect(Object.keys(view.state(p, key).hour).length).toBeLessThanOrEqual(LAST_HOUR.buckets);
        expect(Object.keys(view.state(p, key).day).length).toBeLessThanOrEqual(LAST_DAY.buckets);
      }
    }
    await platform.stop();
  });

  it('resumes after a restart without pushing a recommendation twice', async () => {
    const inputs = [...session('ann', 'lamp', T0, 'a'), ...session('bob', 'lamp', T0 + 30 * MINUTE, 'b'), ...session('ann', 'desk', T0 + HOUR, 'c')];
    const half = 30;

    const whole = new MemoryGateway<Recommendation>();
    const a = await start(new MemoryStore(), whole);
    await feedInOrder(a, inputs);
    await a.stop();

    const store = new MemoryStore();
    const gateway = new MemoryGateway<Recommendation>();
    const first = await start(store, gateway);
    await feedInOrder(first, inputs.slice(0, half));
    const before = gateway.performed.size;
    expect(before).toBeGreaterThan(0);
    await first.stop();
    const second = await start(store, gateway);
    await settle(second);
    // Everything the first instance did is caught up, not redone: its pushes are suppressed, one for one.
    expect(second.status().gateways[0]).toMatchObject({ name: 'recommendations', performed: 0, suppressed: before });
    await feedInOrder(second, inputs.slice(half));
    expect(gateway.duplicates).toBe(0);
    expect(gateway.calls.length).toBe(gateway.performed.size);
    expect(pushes(gateway)).toEqual(pushes(whole));
    expect(pushes(gateway)).toEqual(reference(inputs).pushes);
    expect(violations(second.view())).toEqual([]);
    await second.stop();
  });
});

describe('examples/ml-features: invariants', () => {
  const windows = (total: Partial<Counts>, hour: Partial<Counts> = {}, day: Partial<Counts> = hour): WindowedCounts => ({
    latestMs: T0,
    hour: { 1: { ...zeroCounts(), ...hour } },
    day: { 1: { ...zeroCounts(), ...day } },
    total: { ...zeroCounts(), ...total },
  });

  it('hold for consistent states', () => {
    const users = { ann: windows({ view: 3, click: 1 }, { view: 1 }, { view: 2, click: 1 }) };
    const items = { book: windows({ view: 3, click: 1 }, { view: 1 }, { view: 3, click: 1 }) };
    expect(violations(fakeView({ users, items, serving: { ann: { scored: 4, invalidScores: 0 } } }))).toEqual([]);
  });

  it('catch negative counts, a window counting more than a longer one, bad scores and lost interactions', () => {
    const serving = { ann: { scored: 1, invalidScores: 0 } };
    const names = (v: AppView) => violations(v).map((m) => m.slice(0, m.indexOf(':')));
    expect(names(fakeView({ users: { ann: windows({ view: -1 }) }, items: { book: windows({ view: -1 }) }, serving: { ann: { scored: -1, invalidScores: 0 } } }))).toContain('feature counts are never negative');
    expect(names(fakeView({ users: { ann: windows({ view: 1 }, { view: 2 }, { view: 1 }) }, items: { book: windows({ view: 1 }) }, serving }))).toEqual(['a window never counts more than a longer one']);
    expect(names(fakeView({ users: { ann: windows({ view: 1 }, {}, { view: 2 }) }, items: { book: windows({ view: 1 }) }, serving }))).toEqual(['a window never counts more than a longer one']);
    expect(names(fakeView({ users: { ann: windows({ view: 1 }) }, items: { book: windows({ view: 1 }) }, serving: { ann: { scored: 1, invalidScores: 1 } } }))).toEqual(['every score is a probability']);
    expect(names(fakeView({ users: { ann: windows({ view: 2 }) }, items: { book: windows({ view: 2 }) }, serving }))).toEqual(['every interaction reaches its user\'s features, its item\'s and a score']);
    expect(names(fakeView({ users: { ann: windows({ view: 1 }) }, items: {}, serving }))).toEqual(['every interaction reaches its user\'s features, its item\'s and a score']);
  });
});

describe('examples/ml-features: simulation and fuzzing', () => {
  const SEEDS = 10;

  it(`has no violation for seeds 1..${SEEDS} with --faults default, and pushes recommendations through the faults`, async () => {
    let effects = 0;
    const hashes = await simulateSeeds(app, SEEDS, { faults: 'default', appSpec: SPEC, keepTrace: true }, (r) => {
      expect(r.events).toBeGreaterThan(4 * 1000 - 1); // every interaction: input, user features, vector, score
      effects += r.trace.kinds.filter((k) => k === 'effect.performed').length;
    });
    expect(hashes.size).toBe(SEEDS);
    expect(effects).toBeGreaterThan(0);
  }, 120_000);

  it('gives the same trace hash for the same seed, in this process and under `spive simulate --json` (exit 0)', async () => {
    const a = await simulate(app, { seed: 7, faults: 'default', appSpec: SPEC });
    const b = await simulate(app, { seed: 7, faults: 'default', appSpec: SPEC });
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.steps).toBe(a.steps);
    // execFileSync throws on a non-zero exit: this passing is the exit code 0.
    const cli = JSON.parse(execFileSync(process.execPath, ['bin/spive.js', 'simulate', SPEC, '--seed', '7', '--faults', 'default', '--json'], { encoding: 'utf8' }));
    expect(cli.traceHash).toBe(a.traceHash);
    expect(cli.violations).toEqual([]);
    expect(cli.repro).toBe(`npx spive simulate ${SPEC} --seed 7 --faults default`);
  }, 120_000);

  it('reports serving state built from the scores: they depend on the order vectors arrive in (why serving keeps counts)', async () => {
    const original = servingProcess.handlers[0]?.['FeaturesJoined'];
    if (original === undefined) throw new Error('serving handles FeaturesJoined');
    const keepingLastScore = {
      ...servingProcess,
      handlers: [{ FeaturesJoined: (state: ServingState, e: Parameters<typeof original>[1], ctx: Parameters<typeof original>[2]) => ({ ...original(state, e, ctx), lastScore: score((e.data as { vector: FeatureVector }).vector) }) }],
    };
    const variant = { ...app, processes: [userFeaturesProcess, itemFeaturesProcess, keepingLastScore] };
    const r = await simulate(variant, { seed: 1, faults: 'default' });
    expect(r.violations[0]?.invariant).toBe('final state equals the fault-free run');
    expect(r.violations[0]?.message).toMatch(/^process serving, shard user-\d+: .*lastScore/);
  }, 60_000);

  it('passes 20 fuzz runs', async () => {
    const r = await fuzz(app, { seed: 1, runs: 20, timeBudgetMs: Number.POSITIVE_INFINITY, appSpec: SPEC });
    expect(r.failed, r.repro ?? '').toBe(false);
    expect(r.runs).toBe(20);
  }, 120_000);
});
