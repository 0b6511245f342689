/**
 * Loyalty points with an app bug: part of the state is a `Set`, which snapshots (JSON) do not
 * cover — it is restored as `{}`. Runs without a restart from a snapshot are fine; the first restore
 * breaks the shard. (The fix: keep plain JSON in the state, e.g. `seen: Record<string, true>`.)
 */
import { defineApp, defineProcess, defineStream } from 'spive';

export const purchases = defineStream<{ Purchased: { id: string; customer: string; amount: number } }>('purchases', { key: (e) => e.data.customer });
export const points = defineStream<{ PointsEarned: { customer: string; points: number; total: number } }>('points');

export interface LoyaltyState {
  total: number;
  /** BUG: a Set is not JSON: a snapshot stores {} and a restore hands back {}. */
  seen: Set<string>;
}

export const loyalty = defineProcess({
  name: 'loyalty',
  inputs: { purchases },
  output: points,
  initial: (): LoyaltyState => ({ total: 0, seen: new Set() }),
  snapshots: { everyEvents: 25 },
  on: {
    purchases: {
      Purchased(state, e, ctx) {
        if (state.seen.has(e.data.id)) return state;
        state.seen.add(e.data.id);
        const earned = Math.floor(e.data.amount / 10);
        state.total += earned;
        ctx.emit('PointsEarned', { customer: e.data.customer, points: earned, total: state.total });
        return state;
      },
    },
  },
});

export default defineApp({
  name: 'loyalty-snapshot-gap',
  streams: [purchases, points],
  processes: [loyalty],
  workload: {
    ratePerSecond: 100,
    keys: 20,
    events: 600,
    keyName: (n) => `customer-${n}`,
    make: ({ i, key, random }) => ({ stream: purchases, type: 'Purchased', data: { id: `p${i}`, customer: key, amount: random.int(1, 300) } }),
  },
});
