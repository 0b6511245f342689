/**
 * Bank inputs (examples/bank): accounts drawn by a Zipf law open on first use, then deposit (30%) or
 * request transfers to other Zipf-drawn accounts (70%, sometimes to themselves or beyond their means,
 * so every rejection happens). About 1% of transfers are client retries that resend the account's
 * previous request unchanged. Amounts are log-normal; a free-text memo of log-normal length gives the
 * payload sizes a heavy tail.
 */
import { FillerText, logNormalLength, normal, ZipfSampler } from '../shape.ts';
import type { DatasetExample, ExampleInput } from './example.ts';

const OVERDRAFT_LIMITS = [0, 0, 0, 100, 500, 1000];

export const bankExample: DatasetExample = {
  name: 'bank',
  app: new URL('../../../examples/bank/app.ts', import.meta.url),
  description: 'accounts, deposits and transfers (ledger → balances)',
  defaultKeys: 10_000,
  inputs({ keys, skew, random }) {
    const zipf = new ZipfSampler(keys, skew);
    const opened = new Uint8Array(keys);
    const lastTransfer: Array<ExampleInput | undefined> = new Array(keys);
    const memo = new FillerText(random.stream('memo-corpus'), 8192);
    const amount = () => Math.max(1, Math.round(Math.exp(3.5 + normal(random))));
    // One string per account, made once: every map keyed by account (the fold's shards, the writer's)
    // then meets the same string again — its hash kept, compared by identity — not a fresh copy per event.
    const names: string[] = new Array(keys);
    const name = (rank: number): string => (names[rank] ??= `acct-${rank}`);
    return (i): ExampleInput => {
      const rank = zipf.sample(random);
      const account = name(rank);
      if (opened[rank] === 0) {
        opened[rank] = 1;
        return { stream: 'transfers', key: account, type: 'AccountOpened', data: { account, overdraftLimit: OVERDRAFT_LIMITS[random.int(0, OVERDRAFT_LIMITS.length - 1)] as number } };
      }
      const text = memo.take(random, logNormalLength(random, 16, 1.3, 0, 8192));
      if (random.chance(0.3)) {
        return { stream: 'transfers', key: account, type: 'Deposited', data: { id: `d${i}`, account, amount: amount() * 3, memo: text } };
      }
      const previous = lastTransfer[rank];
      if (previous !== undefined && random.chance(0.01)) return previous;
      const to = name(zipf.sample(random));
      const event: ExampleInput = { stream: 'transfers', key: account, type: 'TransferRequested', data: { id: `t${i}`, from: account, to, amount: amount(), memo: text } };
      lastTransfer[rank] = event;
      return event;
    };
  },
};
