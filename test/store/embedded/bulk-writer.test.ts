/**
 * The bulk writer makes an ordinary store: whatever batches and snapshots go in, EmbeddedStore.open
 * recovers exactly those events (readAll, per shard, columns) and snapshots, every segment is sealed,
 * and the store then takes live appends where the bulk load ended.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore, type StoredEvent } from 'spive';
import { BulkWriter } from '../../../src/store/embedded/bulk-writer.ts';
import { collect } from '../../helpers/async.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

type Op =
  | { kind: 'batch'; stream: string; key: string; events: Array<{ type: string; time: number; data: { n: number; s: string }; meta?: { m: number } }>; output?: { v: string; m: number; in: [number, number] } }
  | { kind: 'snapshot'; shard: string; position: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('batch' as const), stream: fc.constantFrom('s1', 's2'), key: fc.constantFrom('a', 'b', 'ü-ñ', 'k/1'), events: fc.array(fc.record({ type: fc.constantFrom('T', 'U'), time: fc.integer({ min: 0, max: 1e12 }), data: fc.record({ n: fc.integer(), s: fc.string({ maxLength: 300 }) }), meta: fc.option(fc.record({ m: fc.nat() }), { nil: undefined }) }), { minLength: 1, maxLength: 5 }), output: fc.option(fc.record({ v: fc.constantFrom('v1', 'é"2'), m: fc.maxSafeNat(), in: fc.tuple(fc.nat(3), fc.maxSafeNat()) }), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), shard: fc.constantFrom('a', 'b'), position: fc.nat(1000) }) },
);

describe('BulkWriter', () => {
  it('writes a store that opens to exactly what was written, sealed, and takes appends after it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 80 }), async (ops) => {
        const d = tempDir();
        try {
          const writer = await BulkWriter.create(`${d.path}/s`, { segmentBytes: 4096, parquet: false });
          const expected: StoredEvent[] = [];
          const seqs = new Map<string, number>();
          // Shard cells (BulkBatch.cell) for some batches: the writer's entry is found either way.
          const cells = new Map<string, { bulk?: unknown }>();
          const snapshots: Array<{ shard: string; position: number; data: string }> = [];
          for (const o of ops) {
            if (o.kind === 'snapshot') {
              const data = JSON.stringify({ state: o.position });
              writer.putSnapshot({ process: 'p', version: 'v1', shard: o.shard, position: o.position, time: 5, data: new TextEncoder().encode(data) });
              snapshots.push({ shard: o.shard, position: o.position, data });
              continue;
            }
            const id = `${o.stream}/${o.key}`;
            const seq = seqs.get(id) ?? 0;
            seqs.set(id, seq + o.events.length);
            // A batch of outputs carries one meta for all its events (BulkBatch.outputMeta), written from its parts.
            const events = o.events.map((e, i) => ({ stream: o.stream, key: o.key, seq: seq + i + 1, position: expected.length + i + 1, ...e, ...(o.output === undefined ? {} : { meta: o.output }) }) as StoredEvent);
            const cell = seq % 2 === 0 ? undefined : (cells.get(id) ?? cells.set(id, {}).get(id));
            const metas = o.output !== undefined ? { outputMeta: o.output } : { metaTexts: o.events.map((e) => (e.meta === undefined ? undefined : JSON.stringify(e.meta))) };
            writer.append({ stream: o.stream, key: o.key, events, dataTexts: o.events.map((e) => JSON.stringify(e.data)), ...metas, ...(cell === undefined ? {} : { cell }) });
            expected.push(...events.map((e) => (e.meta === undefined ? (({ meta, ...rest }) => rest)(e) : e)));
            if (writer.buffered > 10_000) await writer.flush();
          }
          const summary = await writer.finish();
          expect(summary.events).toBe(expected.length);
          const store = await EmbeddedStore.open(`${d.path}/s`, { readOnly: true });
          try {
            expect(await collect(store.readAll())).toEqual(expected);
            for (const id of seqs.keys()) {
              const stream = id.slice(0, id.indexOf('/'));
              const key = id.slice(stream.length + 1); // keys may hold '/'
              expect(await collect(store.readShard(stream, key))).toEqual(expected.filter((e) => e.stream === stream && e.key === key));
            }
            for (const stream of ['s1', 's2']) {
              let rows = 0;
              for await (const batch of store.scanColumns(stream)) rows += batch.length;
              expect(rows).toBe(expected.filter((e) => e.stream === stream).length);
            }
            if (expected.length > 0) expect(store.sealedSegments().length).toBeGreaterThan(0);
            for (const s of snapshots) {
              const got = await store.getSnapshot({ process: 'p', version: 'v1', shard: s.shard, atOrBefore: s.position });
              expect(got?.position).toBe(s.position);
              // A later snapshot at the same position replaces an earlier one, as in the store.
              expect(new TextDecoder().decode(got?.data)).toBe(snapshots.filter((x) => x.shard === s.shard && x.position === s.position).at(-1)?.data);
            }
          } finally {
            await store.close();
          }
          const live = await EmbeddedStore.open(`${d.path}/s`);
          try {
            const r = await live.append('s1', 'a', [{ type: 'T', time: 1, data: null }]);
            expect(r.firstPosition).toBe(expected.length + 1);
            expect(r.firstSeq).toBe((seqs.get('s1/a') ?? 0) + 1);
          } finally {
            await live.close();
          }
        } finally {
          d.cleanup();
        }
      }),
      { numRuns: 15 },
    );
  }, 60_000);

  it('refuses a folder that is not empty, and batches that do not follow on', async () => {
    const d = tempDir();
    try {
      const writer = await BulkWriter.create(`${d.path}/s`, { parquet: false });
      await expect(BulkWriter.create(`${d.path}/s`)).rejects.toThrow(/new or empty folder/);
      const e = (position: number, seq: number) => ({ stream: 's', key: 'k', seq, position, time: 1, type: 'T', data: null }) as StoredEvent;
      writer.append({ stream: 's', key: 'k', events: [e(1, 1)], dataTexts: ['null'], metaTexts: [undefined] });
      expect(() => writer.append({ stream: 's', key: 'k', events: [e(3, 2)], dataTexts: ['null'], metaTexts: [undefined] })).toThrow(/position 3 does not follow 1/);
      expect(() => writer.append({ stream: 's', key: 'k', events: [e(2, 5)], dataTexts: ['null'], metaTexts: [undefined] })).toThrow(/seq 5 does not follow 1/);
      const cell = {};
      writer.append({ stream: 's', key: 'k', events: [e(2, 2)], dataTexts: ['null'], metaTexts: [undefined], cell });
      const other = (position: number) => ({ stream: 's', key: 'j', seq: 1, position, time: 1, type: 'T', data: null }) as StoredEvent;
      expect(() => writer.append({ stream: 's', key: 'j', events: [other(3)], dataTexts: ['null'], metaTexts: [undefined], cell })).toThrow(/the cell of s\/k came with a batch of s\/j/);
      expect(() => writer.append({ stream: 's', key: 'j', events: [other(3)], dataTexts: ['null'], outputMeta: { v: 'v', m: 1.5, in: [0, 1] } })).toThrow(/integers m and in/);
      expect(() => writer.append({ stream: 's', key: 'j', events: [other(3)], dataTexts: ['null'], metaTexts: ['{}'], outputMeta: { v: 'v', m: 1, in: [0, 1] } })).toThrow(/one output meta, or neither/);
      writer.append({ stream: 's', key: 'j', events: [other(3)], dataTexts: ['null'], outputMeta: { v: 'v', m: 1, in: [0, 1] } }); // refused batches changed nothing
      await writer.abort();
    } finally {
      d.cleanup();
    }
  });
});
