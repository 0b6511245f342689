/**
 * The bank with one rule changed: from event time `limitSince` on, a transfer above TRANSFER_LIMIT is
 * rejected. The same streams, gateway and `balances` process as ./app.ts, and a copy of its ledger
 * with the new rule (`limitSince: null` is the shipped rule) under its own version tag — what a code
 * change to one process looks like to `spive replay-plan` and `spive replay`.
 *
 * The default export is the change docs/replay-planning.md walks through: the limit should have applied
 * since 2024-01-06 (datasets/bank-small's history spans 2024-01-01 to 2024-01-08).
 *
 *   npx spive replay-plan --store <copy of datasets/bank-small> --app examples/bank/transfer-limit.ts \
 *     --process ledger --since 2024-01-06T00:00:00Z --out plan.json
 */
import { defineApp, defineProcess } from 'spive';
import { balances, balancesStream, ledgerStream, notifications, remember, seenBefore, transfers, type LedgerState } from './app.ts';

export const TRANSFER_LIMIT = 100;

export interface TransferLimitOptions {
  readonly ledgerVersion: string;
  readonly limitSince: number | null;
  readonly snapshotEvery?: number;
  /** The limit applies to these payers only (default: every account). */
  readonly accounts?: readonly string[];
}

export function bankWithTransferLimit(o: TransferLimitOptions) {
  const ledger = defineProcess({
    name: 'ledger',
    version: o.ledgerVersion,
    inputs: { transfers },
    output: ledgerStream,
    snapshots: { everyEvents: o.snapshotEvery ?? 1000 },
    initial: (): LedgerState => ({ opened: false, overdraftLimit: 0, available: 0 }),
    on: {
      transfers: {
        AccountOpened(state, e, ctx) {
          if (state.opened) return state;
          ctx.emit('Opened', { account: e.data.account, overdraftLimit: e.data.overdraftLimit });
          return { ...state, opened: true, overdraftLimit: e.data.overdraftLimit };
        },
        Deposited(state, e, ctx) {
          if (seenBefore(state, e.data.id, e.time)) return state;
          ctx.emit('Credited', { account: e.data.account, amount: e.data.amount, id: e.data.id });
          state.available += e.data.amount;
          remember(state, e.data.id, e.time);
          return state;
        },
        TransferRequested(state, e, ctx) {
          const { id, from, to, amount } = e.data;
          if (seenBefore(state, id, e.time)) return state;
          remember(state, id, e.time);
          const reason = !state.opened
            ? 'no such account'
            : from === to
              ? 'cannot transfer to the same account'
              : amount <= 0
                ? 'amount must be positive'
                : o.limitSince !== null && e.time >= o.limitSince && amount > TRANSFER_LIMIT && (o.accounts === undefined || o.accounts.includes(from))
                  ? 'above the transfer limit'
                  : state.available - amount < -state.overdraftLimit
                    ? 'insufficient funds'
                    : undefined;
          if (reason !== undefined) {
            ctx.emit('Rejected', { account: from, amount, id, reason });
            ctx.effect(notifications, { account: from, message: `transfer ${id} of ${amount} to ${to} rejected: ${reason}` });
            return state;
          }
          ctx.emit('Debited', { account: from, to, amount, id });
          state.available -= amount;
          return state;
        },
      },
    },
  });
  const app = defineApp({ name: 'bank', streams: [transfers, ledgerStream, balancesStream], processes: [ledger, balances], gateways: [notifications] });
  return { app, ledger, balances };
}

/** Since when the limit should have applied, in the worked example. */
export const LIMIT_SINCE = Date.UTC(2024, 0, 6);

export default bankWithTransferLimit({ ledgerVersion: 'transfer-limit-1', limitSince: LIMIT_SINCE }).app;
