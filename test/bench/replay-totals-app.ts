/**
 * The replay benchmark's process as an app module: a running sum and the last time per account over
 * the big store's `transfers` (it reads the key, the time and `amount`). A module, because replay
 * worker threads load the app by file (handlers cannot be sent to a thread).
 */
import { defineApp, defineProcess, defineStream, type ProcessDef } from '../../src/index.ts';

export interface Totals {
  sum: number;
  last: number;
}

export const TRANSFERS = 'transfers'; // util.ts's STREAM: the stream scan.ts builds

const transfers = defineStream<{ Deposited: { amount: number; currency: string; account: string; memo: string } }>(TRANSFERS);
const out = defineStream<{ Never: null }>('totals');

export const totals = defineProcess({
  name: 'totals',
  version: 'bench',
  inputs: { transfers },
  output: out,
  reads: ['amount'],
  initial: (): Totals => ({ sum: 0, last: 0 }),
  on: {
    transfers: {
      Deposited(s, e, ctx) {
        if (e.key !== ctx.key) throw new Error('event of another shard');
        s.sum += e.data.amount;
        s.last = e.time;
        return s;
      },
    },
  },
}) as unknown as ProcessDef<unknown>;

export default defineApp({ name: 'replay-bench', streams: [transfers, out], processes: [totals] });
