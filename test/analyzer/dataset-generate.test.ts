/**
 * A generated dataset is one the real runtime could have written: over the same input events, the
 * Platform (real runners on a store) produces the same outputs per shard (type, time, data, meta.m,
 * meta.v), the same snapshots, and the same final states; and opening the generated store with the
 * real runtime catches up without appending anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore, MemoryStore, Platform, type EventStore, type ProcessDef, type StoredEvent } from 'spive';
import { ROUND_SHARD } from '../../src/runtime/runner.ts';
import bank, { balances, ledger } from '../../examples/bank/app.ts';
import { DEFAULT_START_MS, generateDataset, type GenerateResult } from '../../analyzer/dataset/generate.ts';
import { bankExample } from '../../analyzer/dataset/examples/bank.ts';
import { collect } from '../helpers/async.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const dir = tempDir('spive-dataset-');
let result: GenerateResult;
let generated: EmbeddedStore;
let reference: MemoryStore;
let version: string;

/** A shard's outputs as the acceptance test compares them. */
function comparable(events: readonly StoredEvent[]) {
  return events.map((e) => ({ type: e.type, time: e.time, data: e.data, m: e.meta?.m, v: e.meta?.v }));
}

async function byShard(store: EventStore, stream: string): Promise<Map<string, StoredEvent[]>> {
  const shards = new Map<string, StoredEvent[]>();
  for (const e of await collect(store.readStream(stream))) {
    const list = shards.get(e.key) ?? [];
    list.push(e);
    shards.set(e.key, list);
  }
  return shards;
}

beforeAll(async () => {
  result = await generateDataset({ example: bankExample, out: `${dir.path}/bank`, events: 2000, keys: 300, skew: 0.99, seed: 42, days: 3, startMs: DEFAULT_START_MS, segmentBytes: 256 * 1024 });
  version = result.processes[0]?.version as string;
  generated = await EmbeddedStore.open(`${dir.path}/bank`, { readOnly: true });
  // The reference: the same input events, in the same order, run by the real runtime.
  reference = new MemoryStore();
  for (const e of await collect(generated.readStream('transfers'))) {
    await reference.append('transfers', e.key, [{ type: e.type, time: e.time, data: e.data }]);
  }
  const platform = await Platform.start(bank, { store: reference, version, idle: false, ingressIdle: false });
  await platform.settle();
  await platform.stop();
}, 60_000);

afterAll(async () => {
  await generated?.close();
  dir.cleanup();
});

describe('dataset generate (bank)', () => {
  it('tags outputs and snapshots with the version spive run would use', async () => {
    const { loadApp } = await import('../../src/app/load-app.ts');
    expect(version).toBe((await loadApp('examples/bank')).version);
    expect(result.processes.map((p) => p.version)).toEqual([version, version]);
  });

  it('writes the outputs the real runtime writes, shard by shard', async () => {
    for (const stream of ['ledger', 'balances']) {
      const mine = await byShard(generated, stream);
      const theirs = await byShard(reference, stream);
      expect([...mine.keys()].sort(), stream).toEqual([...theirs.keys()].sort());
      for (const [key, events] of theirs) expect(comparable(mine.get(key) ?? []), `${stream}/${key}`).toEqual(comparable(events));
      // meta.in points at the input event that caused the output, in the generated store's own positions.
      for (const events of mine.values()) {
        for (const e of events) {
          const [inputIndex, position] = e.meta?.in as [number, number];
          expect(inputIndex).toBe(0);
          expect(position).toBeLessThan(e.position);
        }
      }
    }
  });

  it('takes the snapshots the real runtime takes (same shards, positions, times and states)', async () => {
    for (const process of ['ledger', 'balances']) {
      const list = (s: EventStore) => s.listSnapshots({ process, version }).then((l) => l.filter((i) => i.shard !== ROUND_SHARD).map(({ sizeBytes, ...info }) => info));
      const mine = await list(generated);
      expect(mine.length).toBeGreaterThan(0);
      expect(mine).toEqual(await list(reference));
      for (const info of mine) {
        const a = await generated.getSnapshot({ ...info, atOrBefore: info.position });
        const b = await reference.getSnapshot({ ...info, atOrBefore: info.position });
        expect(new TextDecoder().decode(a?.data), `${process}/${info.shard}@${info.position}`).toBe(new TextDecoder().decode(b?.data));
      }
      const rounds = (await generated.listSnapshots({ process, version })).filter((i) => i.shard === ROUND_SHARD);
      expect(rounds.map((r) => r.position)).toEqual((await reference.listSnapshots({ process, version })).filter((i) => i.shard === ROUND_SHARD).map((r) => r.position));
    }
  });

  it('is resumed by the real runtime without a single new event, ending in the same states', async () => {
    await generated.close();
    const store = await EmbeddedStore.open(`${dir.path}/bank`);
    const before = await store.stats();
    const resumed = await Platform.start(bank, { store, version, idle: false, ingressIdle: false });
    const fresh = await Platform.start(bank, { store: reference, version, idle: false, ingressIdle: false });
    try {
      await resumed.settle();
      await fresh.settle();
      expect((await store.stats()).events).toBe(before.events);
      expect(resumed.status().processes.every((p) => p.eventsOut === 0)).toBe(true);
      for (const process of [ledger, balances] as unknown as Array<ProcessDef<unknown>>) {
        const keys = fresh.view().keys(process);
        expect(keys.length).toBeGreaterThan(0);
        for (const key of keys) expect(resumed.view().state(process, key), `${process.name}/${key}`).toEqual(fresh.view().state(process, key));
      }
      for (const inv of bank.invariants) expect(inv.check(resumed.view()), inv.name).toBeUndefined();
    } finally {
      await resumed.stop();
      await fresh.stop();
      await store.close();
      generated = await EmbeddedStore.open(`${dir.path}/bank`, { readOnly: true });
    }
  });

  it('shapes the inputs: Zipf-skewed keys, times inside the span, a sealed store that verifies', async () => {
    const inputs = await collect(generated.readStream('transfers'));
    const counts = new Map<string, number>();
    for (const e of inputs) counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
    const sorted = [...counts.values()].sort((a, b) => b - a);
    // The hottest key of a Zipf(0.99) law over 300 keys takes ~16% of the events; uniform would be 0.3%.
    expect((sorted[0] as number) / inputs.length).toBeGreaterThan(0.08);
    expect(inputs.every((e) => e.time >= DEFAULT_START_MS && e.time < DEFAULT_START_MS + 3 * 86_400_000)).toBe(true);
    for (let i = 1; i < inputs.length; i++) expect((inputs[i] as StoredEvent).time).toBeGreaterThanOrEqual((inputs[i - 1] as StoredEvent).time);
    expect(result.minTime).toBe(inputs[0]?.time);
    expect(result.maxTime).toBe(inputs[inputs.length - 1]?.time);
    expect(result.keys).toBe(counts.size);
    expect(generated.sealedSegments().length).toBeGreaterThan(1); // small segments: rotation happened, all sealed
    let rows = 0;
    for (const s of ['transfers', 'ledger', 'balances']) for await (const batch of generated.scanColumns(s)) rows += batch.length;
    expect(rows).toBe(result.storeEvents);
  });
});
