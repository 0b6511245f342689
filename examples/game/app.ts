/**
 * An online game backend: matches, scores, ratings and a leaderboard.
 *
 *   matches ──▶ scoring ──▶ results ──▶ leaderboard ──▶ ratings ──▶ rankings ──▶ board
 *   (input)     per match:              per player: the results     one shard ('global'):
 *               dedupe reports by id,   re-keyed, a finished match  the top of the board
 *               reject late / unknown   fanned out to every player  (a hot key, see below)
 *               ones, rank the match    in it; rating, wins, games
 *
 * Run it:       npx spive run examples/game
 * Feed it:      npx spive append matches '{"type":"MatchStarted","data":{"match":"m1","players":["ann","bob"]}}'
 *               npx spive append matches '{"type":"ScoreReported","data":{"match":"m1","player":"ann","points":3,"id":"r1"}}'
 *               npx spive append matches '{"type":"MatchEnded","data":{"match":"m1"}}'
 */
import { defineApp, defineGateway, defineInvariant, defineProcess, defineStream, deriveSeed, httpGateway, keyedBy, MemoryGateway, seededRandom, type WorkloadSpec } from 'spive';

// ---------------------------------------------------------------- streams

export type MatchEvents = {
  MatchStarted: { match: string; players: string[] };
  /** `id` identifies the report: a client that retries sends the same id again. */
  ScoreReported: { match: string; player: string; points: number; id: string };
  MatchEnded: { match: string };
};

/** What game servers report, keyed by match. */
export const matches = defineStream<MatchEvents>('matches', { key: (e) => e.data.match });

/** A player's result in a finished match. Players with equal totals share a place. */
export interface Standing {
  player: string;
  total: number;
  /** 1 = first. */
  place: number;
  /** Rating change: zero-sum over the match (see `ratingDeltas`). */
  delta: number;
}

export type ResultEvents = {
  StartRejected: { match: string; reason: string };
  PlayerScored: { match: string; player: string; points: number; total: number; id: string };
  ReportRejected: { match: string; player: string; id: string; reason: string };
  MatchFinished: { match: string; standings: Standing[] };
};

export const resultsStream = defineStream<ResultEvents>('results');

export type RatingEvents = {
  RatingChanged: { player: string; match: string; rating: number; delta: number; wins: number; games: number };
};

export const ratingsStream = defineStream<RatingEvents>('ratings');

export interface BoardEntry {
  player: string;
  rating: number;
}

export type BoardEvents = {
  BoardChanged: { top: BoardEntry[] };
};

export const boardStream = defineStream<BoardEvents>('board');

// ---------------------------------------------------------------- gateway

export interface Achievement {
  player: string;
  achievement: string;
  match: string;
}

/** Where achievements go: a webhook when GAME_ACHIEVEMENTS_URL is set, otherwise an in-process trophy case. */
export const trophyCase = new MemoryGateway<Achievement>();
export const achievements = defineGateway<Achievement>(
  'achievements',
  process.env.GAME_ACHIEVEMENTS_URL ? httpGateway({ url: process.env.GAME_ACHIEVEMENTS_URL }) : trophyCase,
);

// ---------------------------------------------------------------- rules

export const INITIAL_RATING = 1000;
/** Rating points per place of difference. */
export const RATING_STEP = 10;
/** Numbers of wins that earn an achievement. */
export const WIN_MILESTONES: readonly number[] = [1, 3, 10, 25, 100];
/** Entries on the board. */
export const TOP_N = 10;
/** The one shard of `rankings`. */
export const BOARD_KEY = 'global';

/**
 * Ranks a finished match: by total, highest first (ties share a place; names order the output).
 * The player at 0-based position i of n gets RATING_STEP × (n − 1 − 2i): the deltas sum to zero.
 * Tied players get the mean over their positions, RATING_STEP × (n − 1 − first − last): still whole
 * numbers, still zero-sum.
 */
export function rankMatch(players: readonly string[], totals: Readonly<Record<string, number>>): Standing[] {
  const sorted = [...players].sort((a, b) => (totals[b] ?? 0) - (totals[a] ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
  const n = sorted.length;
  const standings: Standing[] = [];
  for (let first = 0; first < n; ) {
    const total = totals[sorted[first] as string] ?? 0;
    let last = first;
    while (last + 1 < n && (totals[sorted[last + 1] as string] ?? 0) === total) last++;
    for (let i = first; i <= last; i++) standings.push({ player: sorted[i] as string, total, place: first + 1, delta: RATING_STEP * (n - 1 - first - last) });
    first = last + 1;
  }
  return standings;
}

/** A win: first place, and not shared by everyone. */
export function isWin(s: Standing): boolean {
  return s.place === 1 && s.delta > 0;
}

/** The board: highest rating first, ties by name. */
export function topOf(ratings: Readonly<Record<string, number>>, n = TOP_N): BoardEntry[] {
  // The n best in one pass, kept in order (sorting every player per rating change grew with the game).
  const top: BoardEntry[] = [];
  for (const player in ratings) {
    const rating = ratings[player] as number;
    if (top.length === n && !ahead(rating, player, top[n - 1] as BoardEntry)) continue;
    let at = top.length;
    while (at > 0 && ahead(rating, player, top[at - 1] as BoardEntry)) at--;
    top.splice(at, 0, { player, rating });
    if (top.length > n) top.pop();
  }
  return top;
}

/** Whether (rating, player) ranks above `entry` on the board. */
function ahead(rating: number, player: string, entry: BoardEntry): boolean {
  return rating > entry.rating || (rating === entry.rating && player < entry.player);
}

// ---------------------------------------------------------------- processes

export interface MatchState {
  phase: 'waiting' | 'playing' | 'ended';
  players: string[];
  /** Points per player: the sum of the player's accepted reports. */
  totals: Record<string, number>;
  /** Every report id answered, and how: a retried report gets no second answer. */
  reports: Record<string, { player: string; points: number; accepted: boolean }>;
}

export const scoring = defineProcess({
  name: 'scoring',
  inputs: { matches },
  output: resultsStream,
  initial: (): MatchState => ({ phase: 'waiting', players: [], totals: {}, reports: {} }),
  on: {
    matches: {
      MatchStarted(state, e, ctx) {
        const { match, players } = e.data;
        // Payloads come from outside: an invalid one is rejected, not allowed to crash the process.
        const valid = Array.isArray(players) && players.every((p) => typeof p === 'string' && p !== '');
        const reason =
          state.phase !== 'waiting' ? 'match already started' : !valid || new Set(players).size !== players.length || players.length < 2 ? 'a match needs at least two distinct players' : undefined;
        if (reason !== undefined) {
          ctx.emit('StartRejected', { match, reason });
          return state;
        }
        return { ...state, phase: 'playing' as const, players: [...players], totals: Object.fromEntries(players.map((p) => [p, 0])) };
      },
      ScoreReported(state, e, ctx) {
        const { match, player, points, id } = e.data;
        if (Object.hasOwn(state.reports, id)) return state;
        const reason =
          state.phase === 'waiting'
            ? 'match not started'
            : state.phase === 'ended'
              ? 'match already ended'
              : !state.players.includes(player)
                ? 'player not in this match'
                : !Number.isSafeInteger(points) || points <= 0
                  ? 'points must be a positive whole number'
                  : undefined;
        const reports = { ...state.reports, [id]: { player, points, accepted: reason === undefined } };
        if (reason !== undefined) {
          ctx.emit('ReportRejected', { match, player, id, reason });
          return { ...state, reports };
        }
        const total = (state.totals[player] ?? 0) + points;
        ctx.emit('PlayerScored', { match, player, points, total, id });
        return { ...state, reports, totals: { ...state.totals, [player]: total } };
      },
      MatchEnded(state, e, ctx) {
        if (state.phase !== 'playing') return state; // not started, or ended already: nothing to rank
        ctx.emit('MatchFinished', { match: e.data.match, standings: rankMatch(state.players, state.totals) });
        return { ...state, phase: 'ended' as const };
      },
    },
  },
});

export interface PlayerState {
  rating: number;
  wins: number;
  games: number;
  /** Points scored over all matches. */
  points: number;
  /** Results applied (match ids, and match/report ids): an entry seen twice is a platform bug. */
  applied: Record<string, true>;
  appliedTwice: number;
}

export const leaderboard = defineProcess({
  name: 'leaderboard',
  inputs: {
    // A finished match concerns every player in it: deliver it to each of their shards.
    results: keyedBy(resultsStream, (e) =>
      e.type === 'MatchFinished' ? e.data.standings.map((s) => s.player) : e.type === 'PlayerScored' ? e.data.player : [],
    ),
  },
  output: ratingsStream,
  // `applied` gains a key per result: an object without a prototype is a hash table in V8 from the
  // start, where a `{}` would build a hidden class per new key (several times the cost per insert).
  initial: (): PlayerState => ({ rating: INITIAL_RATING, wins: 0, games: 0, points: 0, applied: Object.create(null) as Record<string, true>, appliedTwice: 0 }),
  on: {
    results: {
      // `applied` grows with every result: it is updated in place (copying it per event made a
      // player's events cost more the more they had played).
      PlayerScored(state, e) {
        const entry = `${e.data.match}/${e.data.id}`;
        if (Object.hasOwn(state.applied, entry)) return { ...state, appliedTwice: state.appliedTwice + 1 };
        state.applied[entry] = true;
        return { ...state, points: state.points + e.data.points };
      },
      MatchFinished(state, e, ctx) {
        const { match, standings } = e.data;
        const mine = standings.find((s) => s.player === ctx.key);
        if (mine === undefined) return state; // cannot happen: the key function chose this shard from the standings
        if (Object.hasOwn(state.applied, match)) return { ...state, appliedTwice: state.appliedTwice + 1 };
        const won = isWin(mine);
        state.applied[match] = true;
        const next: PlayerState = { ...state, rating: state.rating + mine.delta, wins: state.wins + (won ? 1 : 0), games: state.games + 1 };
        if (won && WIN_MILESTONES.includes(next.wins)) {
          ctx.effect(achievements, { player: ctx.key, achievement: `${next.wins} ${next.wins === 1 ? 'win' : 'wins'}`, match });
        }
        ctx.emit('RatingChanged', { player: ctx.key, match, rating: next.rating, delta: mine.delta, wins: next.wins, games: next.games });
        return next;
      },
    },
  },
});

export interface BoardState {
  /** The latest rating of every player who finished a match. */
  ratings: Record<string, number>;
  top: BoardEntry[];
}

/**
 * One board for the whole game: every rating change goes to the single shard 'global'. That is a hot
 * key — one shard, so one runner, takes all of this traffic and holds every player's rating — which is
 * fine for one board fed by per-match results; a game with millions of players would keep a board per
 * region or league, or merge per-bucket top lists.
 */
export const rankings = defineProcess({
  name: 'rankings',
  inputs: { ratings: keyedBy(ratingsStream, () => BOARD_KEY) },
  output: boardStream,
  initial: (): BoardState => ({ ratings: {}, top: [] }),
  on: {
    ratings: {
      // The state grows with the number of players: update it in place (the fast path) instead of copying.
      RatingChanged(state, e, ctx) {
        state.ratings[e.data.player] = e.data.rating;
        const top = topOf(state.ratings);
        if (JSON.stringify(top) === JSON.stringify(state.top)) return state;
        const leader = top[0]?.player;
        if (leader !== undefined && leader !== state.top[0]?.player) {
          ctx.effect(achievements, { player: leader, achievement: 'top of the board', match: e.data.match });
        }
        state.top = top;
        ctx.emit('BoardChanged', { top });
        return state;
      },
    },
  },
});

// ---------------------------------------------------------------- workload (for simulation)

/** Matches in progress at once, and events per match: a start, reports, an end. */
const CONCURRENT_MATCHES = 8;
const EVENTS_PER_MATCH = 8;
const PLAYER_POOL = 40;

/**
 * The players of match number j: two to four, popular players more often. A fixed function of j (not
 * of the run's seed), so that every event of the match can recompute it.
 */
export function workloadPlayers(j: number): string[] {
  const random = seededRandom(deriveSeed(j, 'game/players'));
  const players = new Set<string>();
  const size = random.int(2, 4);
  while (players.size < size) players.add(`player-${Math.floor(PLAYER_POOL * random.float() ** 2)}`);
  return [...players];
}

/**
 * Event i belongs to match j (CONCURRENT_MATCHES interleaved, so matches overlap in time) and is its
 * start, a score report, or its end. The players of a match are a function of j, so each event can be
 * made on its own. A few reports are retried (same id), come after their match ended, or come from a
 * client that is not in the match (the workload's key), to exercise every rejection.
 */
const makeMatchEvent: WorkloadSpec['make'] = ({ i, key, random }) => {
  const slot = i % CONCURRENT_MATCHES;
  const round = Math.floor(i / CONCURRENT_MATCHES);
  const j = Math.floor(round / EVENTS_PER_MATCH) * CONCURRENT_MATCHES + slot;
  const phase = round % EVENTS_PER_MATCH;
  const match = `match-${j}`;
  if (phase === 0) return { stream: matches, type: 'MatchStarted', data: { match, players: workloadPlayers(j) } };
  if (phase === EVENTS_PER_MATCH - 1) return { stream: matches, type: 'MatchEnded', data: { match } };
  const points = random.int(1, 10);
  if (random.chance(0.05) && phase > 1) {
    return { stream: matches, type: 'ScoreReported', data: { match, player: random.pick(workloadPlayers(j)), points, id: `r${i - CONCURRENT_MATCHES}` } }; // a retry
  }
  if (random.chance(0.03) && j >= CONCURRENT_MATCHES) {
    const late = j - CONCURRENT_MATCHES; // the previous match of this slot, ended already
    return { stream: matches, type: 'ScoreReported', data: { match: `match-${late}`, player: random.pick(workloadPlayers(late)), points, id: `r${i}` } };
  }
  const player = random.chance(0.02) ? key : random.pick(workloadPlayers(j));
  return { stream: matches, type: 'ScoreReported', data: { match, player, points, id: `r${i}` } };
};

// ---------------------------------------------------------------- the app

export default defineApp({
  name: 'game',
  streams: [matches, resultsStream, ratingsStream, boardStream],
  processes: [scoring, leaderboard, rankings],
  gateways: [achievements],
  invariants: [
    defineInvariant('a match total is the sum of its accepted reports', 'safety', (view) => {
      for (const match of view.keys(scoring)) {
        const s = view.state(scoring, match);
        const sums: Record<string, number> = Object.fromEntries(s.players.map((p) => [p, 0]));
        for (const r of Object.values(s.reports)) if (r.accepted) sums[r.player] = (sums[r.player] ?? 0) + r.points;
        for (const player of new Set([...Object.keys(sums), ...Object.keys(s.totals)])) {
          if (sums[player] !== s.totals[player]) return `match ${match}: ${player} has total ${s.totals[player]} but accepted reports sum to ${sums[player]}`;
        }
      }
      return undefined;
    }),
    defineInvariant('no result applied twice', 'safety', (view) => {
      const twice = view.keys(leaderboard).filter((k) => view.state(leaderboard, k).appliedTwice > 0);
      return twice.length === 0 ? undefined : `results applied twice to players ${twice.join(', ')}`;
    }),
    defineInvariant('every player\'s games and points match the matches played', 'liveness', (view) => {
      const expected = new Map<string, { games: number; points: number }>();
      for (const match of view.keys(scoring)) {
        const s = view.state(scoring, match);
        for (const player of s.players) {
          const e = expected.get(player) ?? { games: 0, points: 0 };
          e.points += s.totals[player] ?? 0;
          if (s.phase === 'ended') e.games++;
          expected.set(player, e);
        }
      }
      for (const player of new Set([...expected.keys(), ...view.keys(leaderboard)])) {
        const want = expected.get(player) ?? { games: 0, points: 0 };
        const { games, points } = view.state(leaderboard, player);
        if (games !== want.games || points !== want.points) return `player ${player}: ${games} games and ${points} points, but the matches say ${want.games} and ${want.points}`;
      }
      return undefined;
    }),
    defineInvariant('ratings are zero-sum', 'liveness', (view) => {
      let sum = 0;
      for (const player of view.keys(leaderboard)) sum += view.state(leaderboard, player).rating - INITIAL_RATING;
      return sum === 0 ? undefined : `ratings sum to ${sum} more than the players started with`;
    }),
    defineInvariant('the board shows the best-rated players', 'liveness', (view) => {
      const ratings: Record<string, number> = {};
      for (const player of view.keys(leaderboard)) {
        const s = view.state(leaderboard, player);
        if (s.games > 0) ratings[player] = s.rating;
      }
      const want = JSON.stringify(topOf(ratings));
      const got = JSON.stringify(view.state(rankings, BOARD_KEY).top);
      return got === want ? undefined : `the board shows ${got} but the ratings give ${want}`;
    }),
  ],
  workload: {
    ratePerSecond: 100,
    keys: PLAYER_POOL,
    skew: 0.99,
    events: 1000,
    make: makeMatchEvent,
  },
});
