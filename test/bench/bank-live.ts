/**
 * runtime.bank.ledger.live: input events per second through the bank's `ledger` process running live
 * on the embedded store — appended one at a time by 32 concurrent writers while the runner merges,
 * handles, and appends its outputs (conditional, fenced, durable, pipelined into group commits).
 * runtime.bank.ledger.backlog: the same events already in the store when the runner starts.
 * Baseline for both: the ledger's handlers alone over the same events in a plain loop (no store, no
 * runner): the cost of the business logic itself.
 */
import { EmbeddedStore, Platform, type HandlerContext, type NewEvent } from '../../src/index.ts';
import bank, { ledger, type LedgerState } from '../../examples/bank/app.ts';
import { info, fmt, makeTemp, removeTemp, type BenchResult } from './util.ts';

export interface BankSizes {
  readonly events: number;
  readonly accounts: number;
}

function inputs(sizes: BankSizes): Array<{ key: string; event: NewEvent }> {
  const out: Array<{ key: string; event: NewEvent }> = [];
  let x = 12345;
  const next = (k: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % k);
  for (let a = 0; a < sizes.accounts; a++) out.push({ key: `a${a}`, event: { type: 'AccountOpened', time: out.length, data: { account: `a${a}`, overdraftLimit: 100 } } });
  while (out.length < sizes.events) {
    const i = out.length;
    const from = `a${next(sizes.accounts)}`;
    if (next(3) === 0) out.push({ key: from, event: { type: 'Deposited', time: i, data: { id: `d${i}`, account: from, amount: 1 + next(100) } } });
    else out.push({ key: from, event: { type: 'TransferRequested', time: i, data: { id: `t${i}`, from, to: `a${next(sizes.accounts)}`, amount: 1 + next(120) } } });
  }
  return out;
}

function handlerOnly(all: Array<{ key: string; event: NewEvent }>): number {
  const handlers = ledger.handlers[0] as Record<string, ((s: LedgerState, e: unknown, c: HandlerContext<Record<string, unknown>>) => LedgerState) | undefined>;
  const states = new Map<string, LedgerState>();
  let emitted = 0;
  const ctx = { emit: () => void emitted++, effect: () => undefined } as unknown as HandlerContext<Record<string, unknown>>;
  const started = performance.now();
  for (let rep = 0; rep < 3; rep++) {
    states.clear();
    for (const { key, event } of all) {
      const handler = handlers[event.type];
      if (handler === undefined) continue;
      states.set(key, handler(states.get(key) ?? ledger.initial(key), { ...event, key, stream: 'transfers', seq: 0, position: 0 }, ctx));
    }
  }
  if (emitted === 0) throw new Error('the ledger emitted nothing');
  return (3 * all.length) / ((performance.now() - started) / 1000);
}

/** Events of `all` grouped per key into batches of up to `size`, keeping each key's order. */
function perKeyBatches(all: Array<{ key: string; event: NewEvent }>, size: number): Array<{ key: string; events: NewEvent[] }> {
  const open = new Map<string, NewEvent[]>();
  const out: Array<{ key: string; events: NewEvent[] }> = [];
  for (const { key, event } of all) {
    let batch = open.get(key);
    if (batch === undefined || batch.length === size) {
      batch = [];
      open.set(key, batch);
      out.push({ key, events: batch });
    }
    batch.push(event);
  }
  return out;
}

export async function bankLive(sizes: BankSizes, results: (r: BenchResult) => void): Promise<void> {
  const all = inputs(sizes);
  const baseline = handlerOnly(all);
  info(`bank ledger handlers alone: ${fmt(baseline)} events/s`);
  for (const mode of ['live', 'backlog'] as const) {
    const dir = makeTemp('bank');
    try {
      const store = await EmbeddedStore.open(`${dir}/store`, { warn: () => undefined });
      if (mode === 'backlog') {
        // The inputs are already there (a backlog after downtime); not timed.
        const batches = perKeyBatches(all, 100);
        for (let i = 0; i < batches.length; i += 64) {
          await Promise.all(batches.slice(i, i + 64).map((b) => store.append('transfers', b.key, b.events)));
        }
      }
      const platform = await Platform.start(bank, { store, processes: ['ledger'], version: 'bench', idle: false, ingressIdle: false });
      const started = performance.now();
      if (mode === 'live') {
        // 32 writers appending one event at a time, as an HTTP ingress would; a key's events stay in order.
        const writers = 32;
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (const { key, event } of all) if (Number(key.slice(1)) % writers === w) await store.append('transfers', key, [event]);
          }),
        );
      }
      await platform.settle({ timeoutMs: 600_000, pollMs: 5 });
      const seconds = (performance.now() - started) / 1000;
      const status = platform.runner('ledger')?.status();
      await platform.stop();
      await store.close();
      if (status?.eventsIn !== all.length) throw new Error(`ledger took ${status?.eventsIn} of ${all.length} events`);
      info(`bank ledger ${mode}: ${all.length} events in ${fmt(seconds)} s, ${status.eventsOut} outputs`);
      results({ bench: `runtime.bank.ledger.${mode}`, value: all.length / seconds, unit: 'events/s', baseline });
    } finally {
      removeTemp(dir);
    }
  }
}
