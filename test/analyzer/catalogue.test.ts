/**
 * The statistics catalogue adds up exactly to the store — across sealed Parquet files and the
 * unsealed tail, after appends, after re-opening — and updates incrementally: a sealed file is
 * aggregated once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore, type EventStore } from 'spive';
import { StatsCatalogue } from '../../analyzer/catalogue/catalogue.ts';
import { storeHistory } from '../../analyzer/catalogue/store-source.ts';
import { tempDir } from '../helpers/temp-dir.ts';

interface Truth {
  events: number;
  bytes: number;
  inputs: number;
}

/** What the catalogue should say, folded directly from the store's events. */
async function truth(store: EventStore, stream: string): Promise<Map<string, Truth>> {
  const byKey = new Map<string, Truth & { ms: Set<number> }>();
  for await (const batch of store.readStream(stream)) {
    for (const e of batch) {
      let t = byKey.get(e.key);
      if (t === undefined) byKey.set(e.key, (t = { events: 0, bytes: 0, inputs: 0, ms: new Set() }));
      t.events++;
      t.bytes += Buffer.byteLength(JSON.stringify(e.data));
      const m = e.meta?.m;
      if (typeof m === 'number') t.ms.add(m);
      else t.inputs++;
    }
  }
  return new Map([...byKey].map(([k, t]) => [k, { events: t.events, bytes: t.bytes, inputs: t.inputs + t.ms.size }]));
}

async function catalogued(catalogue: StatsCatalogue, stream: string): Promise<Map<string, Truth>> {
  const rows = await catalogue.db.rows<{ key: string; events: number; bytes: number; inputs: number }>(
    `SELECT key, sum(events) AS events, sum(bytes) AS bytes, sum(inputs) AS inputs FROM buckets WHERE stream = '${stream}' GROUP BY key`,
  );
  return new Map(rows.map((r) => [r.key, { events: r.events, bytes: r.bytes, inputs: r.inputs }]));
}

/** Appends `n` events spread over keys; the `out` stream carries meta like process outputs (two events per input). */
async function appendSome(store: EventStore, from: number, n: number, keys: number, pad: (i: number) => number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const key = `k${(i * 7) % keys}`;
    const time = 1_700_000_000_000 + i * 60_000;
    await store.append('in', key, [{ type: 'Seen', time, data: { i, pad: 'p'.repeat(pad(i)) } }]);
    await store.append('out', key, [
      { type: 'A', time, data: { i }, meta: { v: 'v1', m: i } },
      { type: 'B', time, data: { i, x: 1 }, meta: { v: 'v1', m: i } },
    ]);
  }
}

describe('statistics catalogue', () => {
  it('adds up to the store across sealed files and the tail, and aggregates each sealed file once', async () => {
    const dir = tempDir();
    try {
      let store = await EmbeddedStore.open(dir.path, { segmentBytes: 32 * 1024 });
      await appendSome(store, 0, 600, 13, (i) => i % 50);
      await store.seal();
      const path = `${dir.path}/analyzer/stats.duckdb`;
      let catalogue = await StatsCatalogue.open(path);
      const first = await catalogue.update(storeHistory(store));
      expect(first.filesAdded).toBeGreaterThan(2);
      expect(first.rebuilt).toBe(false);
      for (const s of ['in', 'out']) expect(await catalogued(catalogue, s)).toEqual(await truth(store, s));

      // More appends: only the new tail (and any newly sealed file) is read.
      await appendSome(store, 600, 50, 13, () => 3);
      const second = await catalogue.update(storeHistory(store));
      expect(second.filesAdded).toBeLessThanOrEqual(1);
      expect(second.tailEvents).toBeLessThan(first.tailEvents + 3 * 50 + 1);
      for (const s of ['in', 'out']) expect(await catalogued(catalogue, s)).toEqual(await truth(store, s));
      const versions = await catalogue.versions('out');
      expect(versions).toEqual([expect.objectContaining({ version: 'v1', events: 650 * 2 })]);
      catalogue.close();
      await store.close();

      // Re-opened later: nothing sealed is aggregated again, and nothing is counted twice.
      store = await EmbeddedStore.open(dir.path, { segmentBytes: 32 * 1024 });
      catalogue = await StatsCatalogue.open(path);
      const third = await catalogue.update(storeHistory(store));
      expect(third.filesAdded).toBe(store.sealedHistory().length - (first.filesAdded + second.filesAdded));
      for (const s of ['in', 'out']) expect(await catalogued(catalogue, s)).toEqual(await truth(store, s));
      catalogue.close();
      await store.close();
    } finally {
      dir.cleanup();
    }
  });

  it('rebuilds itself when the store it described was replaced', async () => {
    const dir = tempDir();
    const other = tempDir();
    try {
      const path = `${other.path}/stats.duckdb`;
      let store = await EmbeddedStore.open(dir.path, { segmentBytes: 16 * 1024 });
      await appendSome(store, 0, 300, 5, () => 10);
      await store.seal();
      let catalogue = await StatsCatalogue.open(path);
      await catalogue.update(storeHistory(store));
      catalogue.close();
      await store.close();
      dir.cleanup();

      store = await EmbeddedStore.open(dir.path, { segmentBytes: 16 * 1024 });
      await appendSome(store, 0, 200, 3, () => 20);
      await store.seal();
      catalogue = await StatsCatalogue.open(path);
      const report = await catalogue.update(storeHistory(store));
      expect(report.rebuilt).toBe(true);
      expect(report.reason).toMatch(/changed|no longer/);
      for (const s of ['in', 'out']) expect(await catalogued(catalogue, s)).toEqual(await truth(store, s));
      catalogue.close();
      await store.close();
    } finally {
      dir.cleanup();
      other.cleanup();
    }
  });

  it('is exact for any history and any point of sealing (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 200 }), async (before, after, keys, padMax) => {
        const dir = tempDir();
        try {
          const store = await EmbeddedStore.open(dir.path, { segmentBytes: 8 * 1024 });
          await appendSome(store, 0, before, keys, (i) => (i * 31) % (padMax + 1));
          await store.seal();
          await appendSome(store, before, after, keys, (i) => (i * 17) % (padMax + 1));
          const catalogue = await StatsCatalogue.open(null, { bucketMs: 3_600_000 });
          await catalogue.update(storeHistory(store));
          for (const s of ['in', 'out']) expect(await catalogued(catalogue, s)).toEqual(await truth(store, s));
          catalogue.close();
          await store.close();
        } finally {
          dir.cleanup();
        }
      }),
      { numRuns: 8 },
    );
  });
});
