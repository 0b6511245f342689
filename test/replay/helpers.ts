/** Shared by the replay tests: a bank store written by the real runtime, version views, and fresh reference runs. */
import { EmbeddedStore, MemoryStore, Platform, type AppDef, type EventStore, type StoredEvent } from 'spive';
import { readVersion } from '../../src/replay/fork.ts';
import { copyStore as copyAll } from '../../src/store/copy-store.ts';
import { realClock } from '../../src/time/clock.ts';
import bank from '../../examples/bank/app.ts';
import { bankInputs, type BankInput } from '../examples/bank-inputs.ts';

export const OLD_VERSION = 'bank-v1';

/** Runs `app` live (Platform) over `inputs` on `store`, to the end; snapshots as its processes' policies say. */
export async function runApp(app: AppDef, store: EventStore, inputs: readonly BankInput[], version: string): Promise<Platform> {
  const platform = await Platform.start(app, { store, version, idle: false, ingressIdle: false });
  for (const e of inputs) await platform.append('transfers', { type: e.type, data: e.data, time: e.time });
  await platform.settle({ timeoutMs: 120_000 });
  return platform;
}

/**
 * An embedded store holding the shipped bank's inputs and outputs (version bank-v1), as the runtime
 * writes them: the app runs on a memory store (no fsync per append), then every event (same order,
 * positions, seqs and meta) and snapshot is copied into the embedded store in one group commit.
 */
export async function writeBankStore(dir: string, inputs: readonly BankInput[], app: AppDef = bank, segmentBytes = 256 * 1024): Promise<void> {
  const memory = new MemoryStore();
  const platform = await runApp(app, memory, inputs, OLD_VERSION);
  await platform.stop();
  const store = await EmbeddedStore.open(dir, { segmentBytes });
  await copyStore(memory, store);
  await store.close();
}

/** Every event (same seqs and positions) and snapshot of `from` into the empty `to` (src/store/copy-store.ts, as `spive store copy`). */
export async function copyStore(from: EventStore, to: EventStore): Promise<void> {
  await copyAll(from, to, { clock: realClock });
}

export function inputsFor(seed: number, n: number): BankInput[] {
  return bankInputs(seed, n);
}

/** Bank inputs over many accounts (`acct-0` … ): each opened first, then deposits and transfers among them. */
export function manyAccountInputs(seed: number, n: number, accounts: number): BankInput[] {
  const inputs: BankInput[] = [];
  let x = seed >>> 0;
  const next = (k: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % k);
  for (let a = 0; a < accounts; a++) inputs.push({ type: 'AccountOpened', data: { account: `acct-${a}`, overdraftLimit: 50 }, time: inputs.length });
  while (inputs.length < n) {
    const i = inputs.length;
    if (next(3) === 0) inputs.push({ type: 'Deposited', data: { id: `d${i}`, account: `acct-${next(accounts)}`, amount: 1 + next(200) }, time: i });
    else inputs.push({ type: 'TransferRequested', data: { id: `t${i}`, from: `acct-${next(accounts)}`, to: `acct-${next(accounts)}`, amount: 1 + next(150) }, time: i });
  }
  return inputs;
}

export type Shards = Map<string, Array<{ type: string; data: unknown; m: unknown }>>;

/** Every shard of `stream` (keys from the base stream and the versioned one), as `version` sees it. */
export async function readView(store: EventStore, stream: string, version: string): Promise<Shards> {
  const keys = new Set<string>();
  for (const s of [stream, `${stream}--${version}`]) for await (const batch of store.readStream(s)) for (const e of batch) if (!e.key.startsWith('$')) keys.add(e.key);
  const out: Shards = new Map();
  for (const key of [...keys].sort()) {
    const events: StoredEvent[] = [];
    for await (const batch of readVersion(store, stream, version, key)) events.push(...batch);
    out.set(key, events.map((e) => ({ type: e.type, data: e.data, m: e.meta?.m })));
  }
  return out;
}

/** Every shard of a plain stream. */
export async function readShards(store: EventStore, stream: string): Promise<Shards> {
  const out: Shards = new Map();
  for await (const batch of store.readStream(stream)) {
    for (const e of batch) {
      if (e.key.startsWith('$')) continue;
      const list = out.get(e.key) ?? [];
      list.push({ type: e.type, data: e.data, m: e.meta?.m });
      out.set(e.key, list);
    }
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The fault-free run of `app` over the same inputs on a fresh store: its streams and final balances. */
export async function freshRun(app: AppDef, inputs: readonly BankInput[]): Promise<{ ledger: Shards; balances: Shards; finalBalances: Map<string, number> }> {
  const store = new MemoryStore();
  const platform = await runApp(app, store, inputs, 'fresh');
  const balancesProcess = app.processes.find((p) => p.name === 'balances');
  const finalBalances = new Map<string, number>();
  for (const key of platform.view().keys(balancesProcess as never)) finalBalances.set(key, (platform.view().state(balancesProcess as never, key) as { balance: number }).balance);
  await platform.stop();
  return { ledger: await readShards(store, 'ledger'), balances: await readShards(store, 'balances'), finalBalances };
}

/** Final balance per account from a balances view: the last BalanceChanged of each shard. */
export function balancesOf(shards: Shards): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, events] of shards) {
    const last = events.filter((e) => e.type === 'BalanceChanged').at(-1);
    if (last !== undefined) out.set(key, (last.data as { balance: number }).balance);
  }
  return out;
}

/** Shards without meta (the fresh run's `m` is compared separately where it must match). */
export function typesAndData(shards: Shards): Map<string, Array<{ type: string; data: unknown }>> {
  return new Map([...shards].map(([k, v]) => [k, v.filter((e) => !e.type.startsWith('$')).map(({ type, data }) => ({ type, data }))]));
}
