/**
 * The game example: scoring per match, a leaderboard re-keyed per player, a one-shard board, and an
 * achievements gateway. Behaviour is checked against a plain reference computation, across restarts
 * (same version: resume; new version: replay with effects suppressed), and through the CLI.
 */
import { execFileSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore, MemoryGateway, MemoryLog, MemoryStore, Platform, seededRandom, type AppDef, type AppView, type EventStore, type JsonValue } from 'spive';
import game, { leaderboard, rankings, scoring, topOf, WIN_MILESTONES, type Achievement, type MatchEvents } from '../../examples/game/app.ts';
import { tempDir } from '../helpers/temp-dir.ts';

type MatchInput = { [T in keyof MatchEvents]: { type: T; data: MatchEvents[T] } }[keyof MatchEvents];

const OUTPUT_STREAMS = ['results', 'ratings', 'board'] as const;

/** What `spive run --json` prints, as far as these tests read it. */
interface RunStatus {
  app: string;
  processes: Array<{ process: string; mode: string; error: string | null; eventsIn: number; eventsOut: number }>;
  gateways: Array<{ name: string; performed: number; suppressed: number }>;
}

async function start(store: EventStore, gateway: MemoryGateway<Achievement>, version = 'v1', app: AppDef = game, log?: MemoryLog): Promise<Platform> {
  return Platform.start(app, { store, version, idle: false, ingressIdle: false, gateways: { achievements: gateway }, ...(log === undefined ? {} : { log }) });
}

/** The same app with frequent snapshot rounds, so a restart restores state instead of re-reading everything. */
const snapshotting: AppDef = { ...game, processes: game.processes.map((p) => ({ ...p, snapshots: { everyEvents: 40, everyMs: 0 } })) };

/**
 * Waits until the app has handled everything appended. Platform.settle() alone may resolve while a
 * runner is still handling the event it took last (reported); on a MemoryStore every step of a runner
 * is a microtask, so after one macrotask turn the runners are idle and settle() is exact.
 */
async function settle(platform: Platform): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await platform.settle();
}

/** Appends inputs with event times from+1, from+2, … */
async function feed(platform: Platform, inputs: readonly MatchInput[], from = 0): Promise<void> {
  for (const [i, e] of inputs.entries()) await platform.append('matches', { type: e.type, data: e.data, time: from + i + 1 });
}

/** Every output shard's events (platform events left out), as `stream/key` → [{type, data}]. */
async function outputs(store: EventStore): Promise<Record<string, Array<{ type: string; data: unknown }>>> {
  const out: Record<string, Array<{ type: string; data: unknown }>> = {};
  for (const stream of OUTPUT_STREAMS) {
    for await (const batch of store.readStream(stream)) {
      for (const e of batch) if (!e.type.startsWith('$')) (out[`${stream}/${e.key}`] ??= []).push({ type: e.type, data: e.data });
    }
  }
  return out;
}

/** Every shard's state of every process, as seen through the view (a deep copy). */
function states(platform: Platform): Record<string, unknown> {
  const view = platform.view();
  const out: Record<string, unknown> = {};
  for (const p of game.processes) for (const key of view.keys(p)) out[`${p.name}/${key}`] = structuredClone(view.state(p, key));
  return out;
}

function violations(view: AppView): Array<[string, string]> {
  return game.invariants.flatMap((inv) => {
    const message = inv.check(view);
    return message === undefined ? [] : [[inv.name, message] as [string, string]];
  });
}

function requests(gateway: MemoryGateway<Achievement>): string[] {
  return [...gateway.performed.values()].map((r) => `${r.player}|${r.achievement}|${r.match}`).sort();
}

/** The app's own workload, made by hand: the first n events for seed `seed`. */
function workloadInputs(n: number, seed: number): MatchInput[] {
  const workload = game.workload;
  if (workload === undefined) throw new Error('the game declares a workload');
  const random = seededRandom(seed);
  const inputs: MatchInput[] = [];
  for (let i = 0; i < n; i++) {
    const e = workload.make({ i, key: `player-${random.int(0, 60)}`, time: i * 10, random });
    if (e === undefined) continue;
    expect(e.stream.name).toBe('matches');
    inputs.push({ type: e.type, data: e.data } as MatchInput);
  }
  return inputs;
}

// ---------------------------------------------------------------- a reference computation

const STEP = 10;

interface RefPlayer {
  rating: number;
  wins: number;
  games: number;
  points: number;
}

/** What the app should compute, written as plainly as possible and independently of app.ts. */
function reference(inputs: readonly MatchInput[]) {
  const matchState = new Map<string, { phase: 'waiting' | 'playing' | 'ended'; players: string[]; totals: Record<string, number>; ids: Set<string> }>();
  const results: Record<string, Array<{ type: string; data: unknown }>> = {};
  const players: Record<string, RefPlayer> = {};
  const player = (name: string): RefPlayer => (players[name] ??= { rating: 1000, wins: 0, games: 0, points: 0 });
  for (const e of inputs) {
    const match = e.data.match;
    let m = matchState.get(match);
    if (m === undefined) matchState.set(match, (m = { phase: 'waiting', players: [], totals: {}, ids: new Set() }));
    const emit = (type: string, data: unknown) => (results[`results/${match}`] ??= []).push({ type, data });
    if (e.type === 'MatchStarted') {
      const ps = e.data.players;
      if (m.phase !== 'waiting') emit('StartRejected', { match, reason: 'match already started' });
      else if (new Set(ps).size !== ps.length || ps.length < 2) emit('StartRejected', { match, reason: 'a match needs at least two distinct players' });
      else {
        m.phase = 'playing';
        m.players = ps;
        for (const p of ps) m.totals[p] = 0;
      }
    } else if (e.type === 'ScoreReported') {
      const { player: who, points, id } = e.data;
      if (m.ids.has(id)) continue;
      m.ids.add(id);
      const reason =
        m.phase === 'waiting' ? 'match not started' : m.phase === 'ended' ? 'match already ended' : !m.players.includes(who) ? 'player not in this match' : !Number.isInteger(points) || points <= 0 ? 'points must be a positive whole number' : undefined;
      if (reason !== undefined) emit('ReportRejected', { match, player: who, id, reason });
      else {
        m.totals[who] = (m.totals[who] ?? 0) + points;
        player(who).points += points;
        emit('PlayerScored', { match, player: who, points, total: m.totals[who], id });
      }
    } else if (m.phase === 'playing') {
      m.phase = 'ended';
      const totals = m.totals;
      // Everyone you beat is worth STEP, everyone who beat you costs STEP.
      const standings = m.players
        .map((p) => {
          const mine = totals[p] ?? 0;
          const higher = m.players.filter((q) => (totals[q] ?? 0) > mine).length;
          const lower = m.players.filter((q) => (totals[q] ?? 0) < mine).length;
          return { player: p, total: mine, place: higher + 1, delta: STEP * (lower - higher) };
        })
        .sort((a, b) => b.total - a.total || (a.player < b.player ? -1 : 1));
      for (const s of standings) {
        const r = player(s.player);
        r.rating += s.delta;
        r.games++;
        if (s.place === 1 && s.delta > 0) r.wins++;
      }
      emit('MatchFinished', { match, standings });
    }
  }
  const top = Object.entries(players)
    .filter(([, p]) => p.games > 0)
    .map(([name, p]) => ({ player: name, rating: p.rating }))
    .sort((a, b) => b.rating - a.rating || (a.player < b.player ? -1 : 1))
    .slice(0, 10);
  const milestones = Object.entries(players)
    .flatMap(([name, p]) => WIN_MILESTONES.filter((w) => w <= p.wins).map((w) => `${name}|${w} ${w === 1 ? 'win' : 'wins'}`))
    .sort();
  const matchesOut = Object.fromEntries([...matchState].map(([k, m]) => [k, { phase: m.phase, totals: m.totals }]));
  return { results, players, top, milestones, matches: matchesOut };
}

/** Checks a settled platform (and its store and gateway) against the reference for `inputs`. */
async function expectMatchesReference(platform: Platform, store: EventStore, gateway: MemoryGateway<Achievement>, inputs: readonly MatchInput[]): Promise<void> {
  const want = reference(inputs);
  const view = platform.view();
  expect(violations(view)).toEqual([]);

  const got = await outputs(store);
  expect(Object.fromEntries(Object.entries(got).filter(([k]) => k.startsWith('results/')))).toEqual(want.results);
  expect(Object.fromEntries(view.keys(scoring).map((k) => [k, { phase: view.state(scoring, k).phase, totals: view.state(scoring, k).totals }]))).toEqual(want.matches);
  expect(
    Object.fromEntries(
      view.keys(leaderboard).map((k) => {
        const { rating, wins, games, points } = view.state(leaderboard, k);
        return [k, { rating, wins, games, points }];
      }),
    ),
  ).toEqual(want.players);
  expect(view.state(rankings, 'global').top).toEqual(want.top);
  const lastBoard: unknown = got['board/global']?.at(-1)?.data ?? { top: [] };
  expect(lastBoard).toEqual({ top: want.top });

  expect(gateway.duplicates).toBe(0);
  expect(gateway.calls.length).toBe(gateway.performed.size);
  const performed = [...gateway.performed.values()];
  expect(
    performed
      .filter((r) => r.achievement !== 'top of the board')
      .map((r) => `${r.player}|${r.achievement}`)
      .sort(),
  ).toEqual(want.milestones);
  const leaders = performed.filter((r) => r.achievement === 'top of the board');
  expect(leaders.at(-1)?.player).toBe(want.top[0]?.player);
}

// ---------------------------------------------------------------- tests

describe('examples/game', () => {
  it('puts on the board the n highest ratings, ties by name: the first n of all players sorted (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 3 }), fc.integer({ min: 900, max: 1100 })), fc.integer({ min: 1, max: 12 }), (ratings, n) => {
        const sorted = Object.entries(ratings)
          .map(([player, rating]) => ({ player, rating }))
          .sort((a, b) => b.rating - a.rating || (a.player < b.player ? -1 : a.player > b.player ? 1 : 0));
        expect(topOf(ratings, n)).toEqual(sorted.slice(0, n));
      }),
      { numRuns: 300 },
    );
  });

  it('scores a match, ranks it, rates its players and puts them on the board', async () => {
    const store = new MemoryStore();
    const gateway = new MemoryGateway<Achievement>();
    const platform = await start(store, gateway);
    const inputs: MatchInput[] = [
      { type: 'MatchStarted', data: { match: 'm1', players: ['ann', 'bob', 'cyd'] } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 4, id: 'a' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'bob', points: 3, id: 'b' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 3, id: 'c' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'cyd', points: 3, id: 'd' } },
      { type: 'MatchEnded', data: { match: 'm1' } },
    ];
    await feed(platform, inputs);
    await settle(platform);

    const results = await outputs(store);
    expect(results['results/m1']?.map((e) => e.type)).toEqual(['PlayerScored', 'PlayerScored', 'PlayerScored', 'PlayerScored', 'MatchFinished']);
    expect(results['results/m1']?.[2]?.data).toEqual({ match: 'm1', player: 'ann', points: 3, total: 7, id: 'c' });
    // ann wins outright; bob and cyd tie for second and share its rating change. Zero-sum.
    expect(results['results/m1']?.[4]?.data).toEqual({
      match: 'm1',
      standings: [
        { player: 'ann', total: 7, place: 1, delta: 20 },
        { player: 'bob', total: 3, place: 2, delta: -10 },
        { player: 'cyd', total: 3, place: 2, delta: -10 },
      ],
    });
    const view = platform.view();
    expect(view.keys(leaderboard)).toEqual(['ann', 'bob', 'cyd']);
    expect(view.state(leaderboard, 'ann')).toMatchObject({ rating: 1020, wins: 1, games: 1, points: 7 });
    expect(view.state(leaderboard, 'bob')).toMatchObject({ rating: 990, wins: 0, games: 1, points: 3 });
    expect(results['ratings/ann']).toEqual([{ type: 'RatingChanged', data: { player: 'ann', match: 'm1', rating: 1020, delta: 20, wins: 1, games: 1 } }]);
    expect(view.state(rankings, 'global').top).toEqual([
      { player: 'ann', rating: 1020 },
      { player: 'bob', rating: 990 },
      { player: 'cyd', rating: 990 },
    ]);
    expect(requests(gateway)).toEqual(['ann|1 win|m1', 'ann|top of the board|m1']);
    expect(violations(view)).toEqual([]);
    await expectMatchesReference(platform, store, gateway, inputs);
    await platform.stop();
  });

  it('applies a retried score report once', async () => {
    const store = new MemoryStore();
    const gateway = new MemoryGateway<Achievement>();
    const platform = await start(store, gateway);
    const inputs: MatchInput[] = [
      { type: 'MatchStarted', data: { match: 'm1', players: ['ann', 'bob'] } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'bob', points: 5, id: 'r1' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'bob', points: 5, id: 'r1' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 8, id: 'r1' } }, // same id, other payload: still the same report
      { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 4, id: 'r2' } },
      { type: 'MatchEnded', data: { match: 'm1' } },
      // Report ids are per match: r1 in another match is a different report.
      { type: 'MatchStarted', data: { match: 'm2', players: ['ann', 'bob'] } },
      { type: 'ScoreReported', data: { match: 'm2', player: 'ann', points: 2, id: 'r1' } },
    ];
    await feed(platform, inputs);
    await settle(platform);
    const results = await outputs(store);
    const scored = (match: string) => results[`results/${match}`]?.filter((e) => e.type === 'PlayerScored').map((e) => e.data);
    expect(scored('m1')).toEqual([
      { match: 'm1', player: 'bob', points: 5, total: 5, id: 'r1' },
      { match: 'm1', player: 'ann', points: 4, total: 4, id: 'r2' },
    ]);
    expect(results['results/m1']?.some((e) => e.type === 'ReportRejected')).toBe(false);
    expect(scored('m2')).toEqual([{ match: 'm2', player: 'ann', points: 2, total: 2, id: 'r1' }]);
    const view = platform.view();
    expect(view.state(scoring, 'm1').totals).toEqual({ ann: 4, bob: 5 });
    expect(view.state(leaderboard, 'bob')).toMatchObject({ wins: 1, games: 1, points: 5, appliedTwice: 0 });
    expect(view.state(leaderboard, 'ann')).toMatchObject({ wins: 0, games: 1, points: 4 + 2 });
    await expectMatchesReference(platform, store, gateway, inputs);
    await platform.stop();
  });

  it('rejects a report that comes after its match ended, and leaves the result alone', async () => {
    const store = new MemoryStore();
    const gateway = new MemoryGateway<Achievement>();
    const platform = await start(store, gateway);
    const inputs: MatchInput[] = [
      { type: 'MatchStarted', data: { match: 'm1', players: ['ann', 'bob'] } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 2, id: 'r1' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'bob', points: 1, id: 'r2' } },
      { type: 'MatchEnded', data: { match: 'm1' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'bob', points: 5, id: 'r3' } },
      { type: 'MatchEnded', data: { match: 'm1' } }, // ending twice ranks nothing twice
    ];
    await feed(platform, inputs.slice(0, 4));
    await settle(platform);
    const before = await outputs(store);
    const ratingBefore = platform.view().state(leaderboard, 'bob');
    await feed(platform, inputs.slice(4), 4);
    await settle(platform);

    const after = await outputs(store);
    expect(after['results/m1']?.slice(0, -1)).toEqual(before['results/m1']);
    expect(after['results/m1']?.at(-1)).toEqual({ type: 'ReportRejected', data: { match: 'm1', player: 'bob', id: 'r3', reason: 'match already ended' } });
    for (const key of Object.keys(after)) if (!key.startsWith('results/')) expect(after[key]).toEqual(before[key]);
    const view = platform.view();
    expect(view.state(scoring, 'm1')).toMatchObject({ phase: 'ended', totals: { ann: 2, bob: 1 } });
    expect(view.state(leaderboard, 'bob')).toEqual(ratingBefore);
    await expectMatchesReference(platform, store, gateway, inputs);
    await platform.stop();
  });

  it('rejects reports for matches not started, for players not in the match and without positive points, and bad starts', async () => {
    const store = new MemoryStore();
    const gateway = new MemoryGateway<Achievement>();
    const platform = await start(store, gateway);
    const inputs: MatchInput[] = [
      { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 2, id: 'early' } },
      { type: 'MatchStarted', data: { match: 'm1', players: ['ann', 'bob'] } },
      { type: 'MatchStarted', data: { match: 'm1', players: ['ann', 'cyd'] } },
      { type: 'MatchStarted', data: { match: 'm2', players: ['ann', 'ann'] } },
      { type: 'MatchStarted', data: { match: 'm3', players: ['ann'] } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'cyd', points: 2, id: 'r1' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 0, id: 'r2' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 1.5, id: 'r3' } },
      { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 2, id: 'early' } }, // answered already
      { type: 'MatchEnded', data: { match: 'm2' } },
    ];
    await feed(platform, inputs);
    await settle(platform);
    const results = await outputs(store);
    const reasons = (match: string) => results[`results/${match}`]?.map((e) => (e.data as { reason?: string }).reason ?? e.type);
    expect(reasons('m1')).toEqual(['match not started', 'match already started', 'player not in this match', 'points must be a positive whole number', 'points must be a positive whole number']);
    expect(reasons('m2')).toEqual(['a match needs at least two distinct players']);
    expect(reasons('m3')).toEqual(['a match needs at least two distinct players']);
    expect(platform.view().state(scoring, 'm1')).toMatchObject({ phase: 'playing', players: ['ann', 'bob'], totals: { ann: 0, bob: 0 } });
    expect(platform.view().keys(leaderboard)).toEqual([]);
    expect(gateway.calls).toEqual([]);
    expect(violations(platform.view())).toEqual([]);
    await platform.stop();
  });

  it('matches a reference computation for random games, across a restart at a random point', async () => {
    const matchIds = ['m0', 'm1', 'm2', 'm3'];
    const playerIds = Array.from({ length: 12 }, (_, i) => `p${i}`);
    const players = fc.oneof(
      { weight: 5, arbitrary: fc.uniqueArray(fc.constantFrom(...playerIds), { minLength: 2, maxLength: 4 }) },
      { weight: 1, arbitrary: fc.array(fc.constantFrom(...playerIds), { maxLength: 3 }) },
    );
    const input: fc.Arbitrary<MatchInput> = fc.oneof(
      { weight: 2, arbitrary: fc.record({ type: fc.constant('MatchStarted' as const), data: fc.record({ match: fc.constantFrom(...matchIds), players }) }) },
      {
        weight: 7,
        arbitrary: fc.record({
          type: fc.constant('ScoreReported' as const),
          data: fc.record({ match: fc.constantFrom(...matchIds), player: fc.constantFrom(...playerIds), points: fc.integer({ min: 0, max: 9 }), id: fc.constantFrom('r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7') }),
        }),
      },
      { weight: 2, arbitrary: fc.record({ type: fc.constant('MatchEnded' as const), data: fc.record({ match: fc.constantFrom(...matchIds) }) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(input, { maxLength: 60 }), fc.nat(), async (inputs, cut) => {
        const store = new MemoryStore();
        const gateway = new MemoryGateway<Achievement>();
        const half = inputs.length === 0 ? 0 : cut % (inputs.length + 1);
        const first = await start(store, gateway);
        await feed(first, inputs.slice(0, half));
        await first.stop(); // wherever it is: the next instance takes over from the durable outputs
        const second = await start(store, gateway);
        await feed(second, inputs.slice(half), half);
        await settle(second);
        try {
          await expectMatchesReference(second, store, gateway, inputs);
        } finally {
          await second.stop();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('resumes after a restart as if it had never stopped, performing no effect twice', async () => {
    const inputs = workloadInputs(600, 7);
    const half = 300;

    const storeA = new MemoryStore();
    const gatewayA = new MemoryGateway<Achievement>();
    const a = await start(storeA, gatewayA);
    await feed(a, inputs);
    await settle(a);
    expect(violations(a.view())).toEqual([]);

    const storeB = new MemoryStore();
    const gatewayB = new MemoryGateway<Achievement>();
    const b1 = await start(storeB, gatewayB);
    await feed(b1, inputs.slice(0, half));
    await settle(b1);
    const performedBeforeStop = b1.status().gateways[0]?.performed ?? 0;
    expect(performedBeforeStop).toBeGreaterThan(0);
    await b1.stop();
    const b2 = await start(storeB, gatewayB);
    await settle(b2);
    // Everything the first instance did is caught up, not redone: its effects are suppressed, one for one.
    expect(b2.status().gateways[0]).toMatchObject({ performed: 0, suppressed: performedBeforeStop });
    expect(b2.status().processes.every((p) => p.eventsOut === 0 && p.caughtUp > 0)).toBe(true);
    await feed(b2, inputs.slice(half), half);
    await settle(b2);

    expect(violations(b2.view())).toEqual([]);
    expect(states(b2)).toEqual(states(a));
    expect(await outputs(storeB)).toEqual(await outputs(storeA));
    expect(gatewayB.duplicates).toBe(0);
    expect(gatewayB.calls.length).toBe(gatewayB.performed.size);
    expect(gatewayB.performed.size).toBe(gatewayA.performed.size);
    expect(requests(gatewayB)).toEqual(requests(gatewayA));
    expect(performedBeforeStop + (b2.status().gateways[0]?.performed ?? 0)).toBe(gatewayA.performed.size);
    await a.stop();
    await b2.stop();
  });

  it('resumes from a snapshot round with the same outputs and effects', async () => {
    const run = (store: EventStore, gateway: MemoryGateway<Achievement>) => start(store, gateway, 'v1', snapshotting);
    const inputs = workloadInputs(600, 11);

    const storeA = new MemoryStore();
    const gatewayA = new MemoryGateway<Achievement>();
    const a = await run(storeA, gatewayA);
    await feed(a, inputs);
    await settle(a);

    const storeB = new MemoryStore();
    const gatewayB = new MemoryGateway<Achievement>();
    const b1 = await run(storeB, gatewayB);
    await feed(b1, inputs.slice(0, 300));
    await settle(b1);
    await b1.stop();
    const b2 = await run(storeB, gatewayB);
    expect(b2.status().processes.every((p) => p.restoredFromM > 0)).toBe(true);
    await feed(b2, inputs.slice(300), 300);
    await settle(b2);

    expect(await outputs(storeB)).toEqual(await outputs(storeA));
    expect(gatewayB.duplicates).toBe(0);
    expect(requests(gatewayB)).toEqual(requests(gatewayA));
    // Shards touched since the restart hold the same state as in the uninterrupted run.
    const viewA = a.view();
    const viewB = b2.view();
    for (const p of game.processes) for (const key of viewB.keys(p)) expect(viewB.state(p, key)).toEqual(viewA.state(p, key));
    await a.stop();
    await b2.stop();
  });

  it('replays from scratch under a new version, suppressing the effects it already performed', async () => {
    const inputs = workloadInputs(400, 3);
    const half = 200;

    const storeA = new MemoryStore();
    const gatewayA = new MemoryGateway<Achievement>();
    const a = await start(storeA, gatewayA);
    await feed(a, inputs);
    await settle(a);

    const store = new MemoryStore();
    const gateway = new MemoryGateway<Achievement>();
    const v1 = await start(store, gateway, 'v1', snapshotting);
    await feed(v1, inputs.slice(0, half));
    await settle(v1);
    const v1Performed = gateway.performed.size;
    expect(v1.status().processes.every((p) => p.snapshotRounds > 0)).toBe(true);
    await v1.stop();
    const written = await outputs(store);

    const log = new MemoryLog();
    const v2 = await start(store, gateway, 'v2', snapshotting, log);
    await settle(v2);
    expect(log.ofKind('snapshot.ignored').map((e) => e.fields?.['versions'])).toEqual(game.processes.map(() => ['v1']));
    const caughtUp = v2.status();
    expect(caughtUp.processes.map((p) => [p.process, p.version, p.restoredFromM, p.eventsOut])).toEqual(game.processes.map((p) => [p.name, 'v2', 0, 0]));
    expect(caughtUp.processes.find((p) => p.process === 'scoring')?.eventsIn).toBe(half);
    expect(caughtUp.gateways[0]).toMatchObject({ name: 'achievements', performed: 0, suppressed: v1Performed });
    expect(gateway.calls.length).toBe(v1Performed);
    expect(await outputs(store)).toEqual(written);
    expect(violations(v2.view())).toEqual([]);

    await feed(v2, inputs.slice(half), half);
    await settle(v2);
    expect(await outputs(store)).toEqual(await outputs(storeA));
    expect(states(v2)).toEqual(states(a));
    expect(gateway.duplicates).toBe(0);
    expect(requests(gateway)).toEqual(requests(gatewayA));
    expect(v2.status().gateways[0]?.performed).toBe(gatewayA.performed.size - v1Performed);
    // The new outputs carry the new version.
    const versions = new Set<JsonValue | undefined>();
    for await (const batch of store.readStream('ratings')) for (const e of batch) versions.add(e.meta?.v);
    expect([...versions].sort()).toEqual(['v1', 'v2']);
    await a.stop();
    await v2.stop();
  });

  it('runs under `spive run --until-idle --json` on events appended with `spive append`', async () => {
    const dir = tempDir('spive-game-');
    const spive = (args: string[], input?: string) =>
      execFileSync(process.execPath, ['bin/spive.js', ...args], { encoding: 'utf8', ...(input === undefined ? {} : { input }), env: { ...process.env, GAME_ACHIEVEMENTS_URL: '' } });
    try {
      const inputs: MatchInput[] = [
        { type: 'MatchStarted', data: { match: 'm1', players: ['ann', 'bob', 'cyd'] } },
        { type: 'ScoreReported', data: { match: 'm1', player: 'bob', points: 4, id: 'r1' } },
        { type: 'ScoreReported', data: { match: 'm1', player: 'ann', points: 2, id: 'r2' } },
        { type: 'ScoreReported', data: { match: 'm1', player: 'bob', points: 4, id: 'r1' } },
        { type: 'MatchEnded', data: { match: 'm1' } },
        { type: 'ScoreReported', data: { match: 'm1', player: 'cyd', points: 9, id: 'r3' } },
      ];
      const [head, second, ...rest] = inputs.map((e, i) => ({ ...e, time: i + 1 }));
      // One event keyed through the app's key function, one carrying its key, the rest as JSON lines on stdin.
      const appended = JSON.parse(spive(['append', 'matches', JSON.stringify(head), '--store', dir.path, '--app', 'examples/game', '--json']));
      expect(appended).toMatchObject({ stream: 'matches', events: 1, via: 'store', appended: [{ key: 'm1', seq: 1 }] });
      spive(['append', 'matches', JSON.stringify({ ...second, key: 'm1' }), '--store', dir.path, '--json']);
      spive(['append', 'matches', '--store', dir.path, '--app', 'examples/game', '--json'], rest.map((e) => JSON.stringify(e)).join('\n'));

      // The same events through an in-process platform give the expected outputs and numbers.
      const store = new MemoryStore();
      const gateway = new MemoryGateway<Achievement>();
      const platform = await start(store, gateway);
      await feed(platform, inputs);
      await settle(platform);
      const want = platform.status();
      const wantOutputs = await outputs(store);
      await platform.stop();
      expect(gateway.performed.size).toBeGreaterThan(0);

      // `--until-idle` can stop before the last outputs have flowed downstream (Platform.settle()
      // resolves once a runner has *taken* its last input, before it has handled it: reported). A
      // further run resumes from the durable outputs, so run until the store holds everything, and
      // check that, over all runs, every output was appended and every effect performed exactly once.
      const runs: RunStatus[] = [];
      let onDisk: Awaited<ReturnType<typeof outputs>> = {};
      while (runs.length < 5 && !isDeepStrictEqual(onDisk, wantOutputs)) {
        runs.push(JSON.parse(spive(['run', 'examples/game', '--store', dir.path, '--until-idle', '--json'])) as RunStatus);
        const disk = await EmbeddedStore.open(dir.path, { readOnly: true });
        try {
          onDisk = await outputs(disk);
        } finally {
          await disk.close();
        }
      }
      expect(onDisk).toEqual(wantOutputs);
      for (const status of runs) {
        expect(status.app).toBe('game');
        expect(status.processes.map((p) => [p.process, p.mode, p.error])).toEqual(game.processes.map((p) => [p.name, 'stopped', null]));
      }
      const first = runs[0]?.processes.find((p) => p.process === 'scoring');
      expect(first?.eventsIn).toBe(inputs.length);
      expect(first?.eventsOut).toBe(want.processes.find((p) => p.process === 'scoring')?.eventsOut);
      const sum = (f: (s: RunStatus) => number) => runs.reduce((total, s) => total + f(s), 0);
      for (const p of want.processes) expect(sum((s) => s.processes.find((q) => q.process === p.process)?.eventsOut ?? 0)).toBe(p.eventsOut);
      expect(sum((s) => s.gateways.find((g) => g.name === 'achievements')?.performed ?? 0)).toBe(gateway.performed.size);
    } finally {
      dir.cleanup();
    }
  });
});
