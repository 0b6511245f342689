/**
 * The dataset's writer thread writes the store a bulk writer in the folding thread writes: the packed
 * operations unpack to the very calls that were packed (payload numbers included, an own `__proto__`
 * field too), and a generated store is byte for byte the same either way, across segment ends.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JsonValue, Snapshot, StoredEvent } from 'spive';
import type { BulkBatch } from '../../src/store/embedded/bulk-writer.ts';
import { DEFAULT_START_MS, generateDataset } from '../../analyzer/dataset/generate.ts';
import { bankExample } from '../../analyzer/dataset/examples/bank.ts';
import { packBatch, packSnapshot, packSnapshotText, unpackOps, type Ops } from '../../analyzer/dataset/writer-ops.ts';
import { tempDir } from '../helpers/temp-dir.ts';

function event(key: string, seq: number, position: number, type: string, data: JsonValue, meta?: Record<string, JsonValue>): StoredEvent {
  return meta === undefined ? { stream: 's', key, seq, position, time: 1_704_067_200_123 + position, type, data } : { stream: 's', key, seq, position, time: 1_704_067_200_123, type, data, meta };
}

function files(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name !== 'LOCK') out.set(relative(root, path), readFileSync(path));
    }
  };
  walk(root);
  return out;
}

describe('dataset writer thread', () => {
  it('unpacks exactly the calls that were packed', () => {
    const proto = JSON.parse('{"__proto__": 7, "b": -0, "c": "x"}') as JsonValue;
    const batches: BulkBatch[] = [
      { stream: 's', key: 'k1', events: [event('k1', 1, 1, 'A', { n: 1, s: 'é', m: Number.NaN })], dataTexts: ['{"n":1,"s":"é"}'], metaTexts: [undefined] },
      {
        stream: 's',
        key: 'k2',
        events: [event('k2', 1, 2, 'B', proto, { m: 1 }), event('k2', 2, 3, 'C', [1, 2], { m: 1 }), event('k2', 3, 4, 'D', null, { m: 1 })],
        dataTexts: ['{"__proto__":7,"b":0,"c":"x"}', '[1,2]', 'null'],
        metaTexts: ['{"m":1}', '{"m":1}', '{"m":1}'],
      },
    ];
    const snapshotText = { process: 'p', version: 'v', shard: 'k1', position: 3, time: 1_704_067_200_999 };
    const snapshot: Omit<Snapshot, 'sizeBytes'> = { ...snapshotText, shard: 'k2', data: new Uint8Array([1, 2, 3]) };
    const ops: Ops = [];
    for (const b of batches) packBatch(ops, b);
    packSnapshotText(ops, snapshotText, '{"state":1}');
    packSnapshot(ops, snapshot);
    const calls: unknown[] = [];
    unpackOps(structuredClone(ops), {
      append: (b) => calls.push(['append', b]),
      putSnapshot: (s) => calls.push(['snapshot', s]),
      putSnapshotText: (s, t) => calls.push(['text', s, t]),
    });
    // Only the numeric fields of a payload travel: they are all the store's columns are made of.
    const numeric = (data: JsonValue): JsonValue => {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
      const kept = Object.entries(data).filter(([, v]) => typeof v === 'number');
      return kept.length === 0 ? null : Object.fromEntries(kept);
    };
    const expected = batches.map((b) => ['append', { ...b, events: b.events.map(({ meta: _, ...e }) => ({ ...e, data: numeric(e.data) })) }]);
    expect(calls.slice(0, 2)).toEqual(expected);
    expect(Object.keys((calls[1] as [string, BulkBatch])[1].events[0]?.data as object)).toEqual(['__proto__', 'b']);
    expect(calls.slice(2)).toEqual([
      ['text', snapshotText, '{"state":1}'],
      ['snapshot', snapshot],
    ]);
  });

  it('generates the same store, byte for byte, as a writer in the folding thread', async () => {
    const dir = tempDir('spive-dataset-thread-');
    try {
      const options = { example: bankExample, events: 2000, keys: 200, skew: 0.99, seed: 9, days: 2, startMs: DEFAULT_START_MS, segmentBytes: 192 * 1024, snapshotEvery: 500 };
      const threaded = await generateDataset({ ...options, out: `${dir.path}/threaded` });
      const inline = await generateDataset({ ...options, out: `${dir.path}/inline`, thread: false });
      expect({ ...threaded, path: '', wallMs: 0 }).toEqual({ ...inline, path: '', wallMs: 0 });
      const a = files(`${dir.path}/threaded`);
      const b = files(`${dir.path}/inline`);
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      expect([...a.keys()].filter((name) => name.endsWith('.parquet')).length).toBeGreaterThan(3);
      for (const [name, bytes] of a) expect(bytes.equals(b.get(name) as Buffer), name).toBe(true);
    } finally {
      dir.cleanup();
    }
  }, 60_000);
});
