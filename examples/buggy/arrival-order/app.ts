/**
 * A raffle with an app bug: the winner is the first entry that *arrives* at the draw, not the one
 * with the earliest event time. Arrival order across entrants depends on the network, so a run with
 * faults ends with another winner than the same workload without faults.
 * (The fix: keep the entry with the smallest `time`, ties broken by entrant.)
 */
import { defineApp, defineProcess, defineStream, keyedBy } from 'spive';

export const entries = defineStream<{ Entered: { entrant: string; ticket: number } }>('entries', { key: (e) => e.data.entrant });
export const draws = defineStream<{ Winner: { entrant: string; ticket: number } }>('draws');

export interface DrawState {
  winner: string | null;
  /** Entrants in the order their entries reached the draw. */
  order: string[];
}

export const draw = defineProcess({
  name: 'draw',
  inputs: { entries: keyedBy(entries, () => 'draw') },
  output: draws,
  initial: (): DrawState => ({ winner: null, order: [] }),
  on: {
    entries: {
      Entered(state, e, ctx) {
        // BUG: the draw is decided by arrival order (the first to arrive wins, and the list is kept in
        // arrival order); decide by e.time (then entrant) instead.
        if (state.winner === null) ctx.emit('Winner', { entrant: e.data.entrant, ticket: e.data.ticket });
        state.order.push(e.data.entrant);
        state.winner ??= e.data.entrant;
        return state;
      },
    },
  },
});

export default defineApp({
  name: 'raffle-arrival-order',
  streams: [entries, draws],
  processes: [draw],
  workload: {
    ratePerSecond: 2000,
    keys: 50,
    skew: 0,
    events: 100,
    keyName: (n) => `entrant-${n}`,
    make: ({ i, key }) => ({ stream: entries, type: 'Entered', data: { entrant: key, ticket: i } }),
  },
});
