/**
 * A machine-learning feature pipeline: features computed per user and per item from a stream of
 * interactions, joined into the vector a model reads, and a model-serving process that scores every
 * new interaction and pushes a recommendation when the score is high.
 *
 *   interactions ──▶ userFeatures ──▶ user-features ──▶ itemFeatures ──▶ feature-vectors ──▶ serving ──▶ scores
 *   (input, by user)  per user: counts       re-keyed by item: the item's     re-keyed by user: the model
 *                     over the last hour     popularity, joined with the      scores the vector; a high score
 *                     and day (event time)   user's features on the event     pushes a recommendation
 *
 * Run it:       npx spive run examples/ml-features
 * Feed it:      npx spive append interactions '{"type":"Viewed","data":{"id":"e1","user":"ann","item":"book-7"}}' --app examples/ml-features
 */
import { defineApp, defineGateway, defineInvariant, defineProcess, defineStream, httpGateway, keyedBy, MemoryGateway, type Handler, type WorkloadSpec } from 'spive';
import { itemFeatures, MODEL_VERSION, PUSH_THRESHOLD, score, userFeatures, type FeatureVector, type UserFeatures } from './model.ts';
import { emptyWindows, INTERACTION_KINDS, record, windowCounts, type InteractionKind, type WindowedCounts } from './windows.ts';

// ---------------------------------------------------------------- streams

/** One interaction of a user with an item. `id` is unique per interaction. */
export type Interaction = { id: string; user: string; item: string };

export type InteractionEvents = {
  Viewed: Interaction;
  Clicked: Interaction;
  Purchased: Interaction;
};

/** What the front end logs, keyed by user. */
export const interactions = defineStream<InteractionEvents>('interactions', { key: (e) => e.data.user });

/** An interaction with its kind, as the downstream events carry it. */
export type InteractionOf = Interaction & { kind: InteractionKind };

export type UserFeatureEvents = {
  /** The user's features right after the interaction, carried on to the item's shard for the join. */
  UserFeaturesUpdated: { interaction: InteractionOf; features: UserFeatures };
};

export const userFeaturesStream = defineStream<UserFeatureEvents>('user-features');

export type FeatureVectorEvents = {
  FeaturesJoined: { interaction: InteractionOf; vector: FeatureVector };
};

export const featureVectorsStream = defineStream<FeatureVectorEvents>('feature-vectors');

export type ScoreEvents = {
  Scored: { interaction: InteractionOf; score: number; model: string };
};

export const scoresStream = defineStream<ScoreEvents>('scores');

// ---------------------------------------------------------------- gateway

export interface Recommendation {
  user: string;
  item: string;
  score: number;
  model: string;
}

/**
 * Where recommendations go: a webhook when ML_RECOMMEND_URL is set (it receives the platform's
 * idempotency key as `Idempotency-Key`, so a push retried after a lost reply is not shown twice),
 * otherwise an in-process outbox.
 */
export const pushed = new MemoryGateway<Recommendation>();
export const recommendations = defineGateway<Recommendation>(
  'recommendations',
  process.env.ML_RECOMMEND_URL ? httpGateway({ url: process.env.ML_RECOMMEND_URL }) : pushed,
);

// ---------------------------------------------------------------- processes

/**
 * A snapshot round every 250 input events: a restarted runner restores the windows instead of
 * re-reading every interaction since the beginning (the state is small and bounded, so snapshots are
 * cheap), and the simulation's crashes exercise restoring them.
 */
const SNAPSHOTS = { everyEvents: 250 } as const;

/**
 * The handler for one kind of interaction: count it in the user's windows and emit the user's
 * features as they are now. The state is updated in place (the fast path); the event is copied field
 * by field, never kept.
 */
function countInteraction<T extends string>(kind: InteractionKind): Handler<WindowedCounts, T, Interaction, UserFeatureEvents> {
  return (state, e, ctx) => {
    record(state, kind, e.time);
    const interaction = { id: e.data.id, user: e.data.user, item: e.data.item, kind };
    ctx.emit('UserFeaturesUpdated', { interaction, features: userFeatures(windowCounts(state.hour), windowCounts(state.day)) });
    return state;
  };
}

export const userFeaturesProcess = defineProcess({
  name: 'userFeatures',
  snapshots: SNAPSHOTS,
  inputs: { interactions },
  output: userFeaturesStream,
  initial: (): WindowedCounts => emptyWindows(),
  on: {
    interactions: { Viewed: countInteraction('view'), Clicked: countInteraction('click'), Purchased: countInteraction('purchase') },
  },
});

/**
 * Item popularity, and the join. The item's windows are the table side of the join; each user
 * event, re-keyed to its item, is the stream side and carries the user's features with it. A join is
 * just a process: it runs where the state it needs lives.
 *
 * The item's shard is fed by many users' shards, so it sees their events in an order that depends on
 * the network. Its *state* does not (the windows are filed by event time); the popularity attached
 * to one event is "as of when the event reached the item", which is what a live system serves.
 */
export const itemFeaturesProcess = defineProcess({
  name: 'itemFeatures',
  snapshots: SNAPSHOTS,
  inputs: { users: keyedBy(userFeaturesStream, (e) => e.data.interaction.item) },
  output: featureVectorsStream,
  initial: (): WindowedCounts => emptyWindows(),
  on: {
    users: {
      UserFeaturesUpdated(state, e, ctx) {
        const { interaction, features } = e.data;
        record(state, interaction.kind, e.time);
        const vector = { user: { ...features }, item: itemFeatures(windowCounts(state.hour), windowCounts(state.day)) };
        ctx.emit('FeaturesJoined', { interaction: { ...interaction }, vector });
        return state;
      },
    },
  },
});

export interface ServingState {
  /** Interactions scored for this user. */
  scored: number;
  /** Scores outside [0, 1]: a broken model. Always 0 (an invariant says so). */
  invalidScores: number;
}

/**
 * Model serving: scores every joined vector and pushes a recommendation for a high score on a view
 * or a click (not for what the user just bought).
 *
 * The state holds counts only, on purpose. The vectors reach a user's shard from many item shards, in
 * an order that depends on the network, so the scores themselves may differ from run to run (a live
 * system is like that too); state built from them — "the latest score" — would too, and the
 * simulator's final-state check would rightly report it. Scores live in the `scores` stream instead.
 */
export const servingProcess = defineProcess({
  name: 'serving',
  snapshots: SNAPSHOTS,
  inputs: { vectors: keyedBy(featureVectorsStream, (e) => e.data.interaction.user) },
  output: scoresStream,
  initial: (): ServingState => ({ scored: 0, invalidScores: 0 }),
  on: {
    vectors: {
      FeaturesJoined(state, e, ctx) {
        const { interaction, vector } = e.data;
        const p = score(vector);
        state.scored++;
        if (!(p >= 0 && p <= 1)) {
          state.invalidScores++;
          return state;
        }
        ctx.emit('Scored', { interaction: { ...interaction }, score: p, model: MODEL_VERSION });
        if (p >= PUSH_THRESHOLD && interaction.kind !== 'purchase') {
          ctx.effect(recommendations, { user: interaction.user, item: interaction.item, score: p, model: MODEL_VERSION });
        }
        return state;
      },
    },
  },
});

// ---------------------------------------------------------------- invariants

/** Every count of a windowed state, with where it is, for messages. */
function* allCounts(w: WindowedCounts): Generator<[string, number]> {
  for (const kind of INTERACTION_KINDS) yield [`total ${kind}`, w.total[kind]];
  for (const [name, buckets] of [['hour', w.hour], ['day', w.day]] as const) {
    for (const [bucket, counts] of Object.entries(buckets)) for (const kind of INTERACTION_KINDS) yield [`${name} bucket ${bucket} ${kind}`, counts[kind]];
  }
}

const featureProcesses = [userFeaturesProcess, itemFeaturesProcess] as const;

export const invariants = [
  defineInvariant('feature counts are never negative', 'safety', (view) => {
    for (const p of featureProcesses) {
      for (const key of view.keys(p)) {
        for (const [where, n] of allCounts(view.state(p, key))) if (!(n >= 0)) return `${p.name} ${key}: ${where} is ${n}`;
      }
    }
    return undefined;
  }),
  defineInvariant('a window never counts more than a longer one', 'safety', (view) => {
    for (const p of featureProcesses) {
      for (const key of view.keys(p)) {
        const w = view.state(p, key);
        const hour = windowCounts(w.hour);
        const day = windowCounts(w.day);
        for (const kind of INTERACTION_KINDS) {
          if (hour[kind] > day[kind] || day[kind] > w.total[kind]) return `${p.name} ${key}: ${kind} counts hour ${hour[kind]}, day ${day[kind]}, total ${w.total[kind]}`;
        }
      }
    }
    return undefined;
  }),
  defineInvariant('every score is a probability', 'safety', (view) => {
    const bad = view.keys(servingProcess).filter((k) => view.state(servingProcess, k).invalidScores > 0);
    return bad.length === 0 ? undefined : `scores outside [0, 1] for users ${bad.join(', ')}`;
  }),
  defineInvariant('every interaction reaches its user\'s features, its item\'s and a score', 'liveness', (view) => {
    let byUsers = 0;
    for (const user of view.keys(userFeaturesProcess)) {
      const { total } = view.state(userFeaturesProcess, user);
      const interactions = total.view + total.click + total.purchase;
      byUsers += interactions;
      const { scored } = view.state(servingProcess, user);
      if (scored !== interactions) return `user ${user}: ${interactions} interactions in the features but ${scored} scored`;
    }
    let byItems = 0;
    for (const item of view.keys(itemFeaturesProcess)) {
      const { total } = view.state(itemFeaturesProcess, item);
      byItems += total.view + total.click + total.purchase;
    }
    const withFeatures = new Set(view.keys(userFeaturesProcess));
    const strays = view.keys(servingProcess).filter((u) => !withFeatures.has(u));
    if (strays.length > 0) return `users scored without features: ${strays.join(', ')}`;
    return byItems === byUsers ? undefined : `items counted ${byItems} interactions, users ${byUsers}`;
  }),
];

// ---------------------------------------------------------------- workload (for simulation)

const USERS = 200;
const ITEMS = 50;

/**
 * Users from a Zipf law (the platform draws the key: a few heavy users, a long tail); items skewed
 * too (a few best-sellers); mostly views, some clicks, few purchases.
 */
const makeInteraction: WorkloadSpec['make'] = ({ i, key, random }) => {
  const item = `item-${Math.floor(ITEMS * random.float() ** 2)}`;
  const roll = random.float();
  const type = roll < 0.7 ? 'Viewed' : roll < 0.95 ? 'Clicked' : 'Purchased';
  return { stream: interactions, type, data: { id: `e${i}`, user: key, item } satisfies Interaction };
};

// ---------------------------------------------------------------- the app

export default defineApp({
  name: 'ml-features',
  streams: [interactions, userFeaturesStream, featureVectorsStream, scoresStream],
  processes: [userFeaturesProcess, itemFeaturesProcess, servingProcess],
  gateways: [recommendations],
  invariants,
  workload: {
    ratePerSecond: 100,
    keys: USERS,
    skew: 0.99,
    events: 1000,
    keyName: (n) => `user-${n}`,
    make: makeInteraction,
  },
});
