/**
 * The PostgreSQL store's Parquet export for the analyzer: sealed position ranges become files once,
 * with exactly the store's events (read back through DuckDB); the export is incremental; a folder of
 * another store (the schema dropped and made again) or of another range width starts over.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Duck, sqlString } from '../../../analyzer/duckdb.ts';
import type { StoredEvent } from '../../../src/model/event.ts';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import { service } from '../../helpers/services.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { dropSchema, freshSchema, storeUrl } from './pg-test-db.ts';

const available = await service('postgres');

/** Appends `sizes[i]` events to stream `streams[i % 2]`, key by turn, payloads with several keys. */
async function appendBatches(store: PostgresStore, sizes: readonly number[], from: number): Promise<void> {
  for (const [i, n] of sizes.entries()) {
    const stream = i % 2 === 0 ? 'orders' : 'payments';
    const key = `k${(from + i) % 5}`;
    await store.append(
      stream,
      key,
      Array.from({ length: n }, (_, j) => ({ type: j % 3 === 0 ? 'Big' : 'Small', time: 1000 * (from + i) + j, data: { zeta: j, alpha: `a${i}`, nested: { b: 1, a: [j] } }, ...(j % 2 === 0 ? { meta: { v: 'v1', m: from + i } } : {}) })),
    );
  }
}

async function all(store: PostgresStore): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for await (const batch of store.readAll()) events.push(...batch);
  return events;
}

/** Every row of the exported files, as the analyzer's DuckDB reads them. */
async function exportedRows(files: readonly { path: string; stream: string }[]): Promise<Array<Record<string, unknown>>> {
  if (files.length === 0) return [];
  const duck = await Duck.open(':memory:');
  try {
    const union = files.map((f) => `SELECT ${sqlString(f.stream)} AS stream, key, seq::DOUBLE AS seq, position::DOUBLE AS position, time::DOUBLE AS time, type, bytes::DOUBLE AS bytes, data, meta FROM read_parquet(${sqlString(f.path)})`).join(' UNION ALL ');
    return await duck.rows(`${union} ORDER BY position`);
  } finally {
    duck.close();
  }
}

describe.skipIf(!available)('PostgresStore.exportHistory', () => {
  const schemas: string[] = [];
  const dir = tempDir();
  afterAll(async () => {
    dir.cleanup();
    for (const s of schemas) await dropSchema(s);
  });

  it('exports each sealed range once, with exactly the store events of the range, incrementally', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.integer({ min: 1, max: 15 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 15 }), { maxLength: 12 }),
        async (width, first, second) => {
          const schema = freshSchema('hx');
          schemas.push(schema);
          const store = await PostgresStore.open(storeUrl(schema));
          const folder = join(dir.path, schema);
          try {
            let exportedBefore = 0;
            for (const [round, sizes] of [first, second].entries()) {
              await appendBatches(store, sizes, round * 100);
              const head = (await store.stats()).lastPosition;
              const report = await store.exportHistory({ dir: folder, rangePositions: width });
              const sealed = Math.floor(head / width) * width;
              expect(report).toMatchObject({ exportedThrough: sealed, rowsExported: sealed - exportedBefore, restarted: null });
              exportedBefore = sealed;

              const files = store.sealedHistory();
              const events = await all(store);
              const rows = await exportedRows(files);
              // Exactly the events of the sealed ranges, each once, with the store's values.
              expect(rows.map((r) => r.position)).toEqual(events.filter((e) => e.position <= sealed).map((e) => e.position));
              for (const r of rows) {
                const e = events[(r.position as number) - 1] as StoredEvent;
                expect([r.stream, r.key, r.seq, r.time, r.type]).toEqual([e.stream, e.key, e.seq, e.time, e.type]);
                expect(JSON.parse(r.data as string)).toEqual(e.data);
                expect(r.bytes).toBe(Buffer.byteLength(JSON.stringify(e.data)));
                expect(r.meta === null ? undefined : JSON.parse(r.meta as string)).toEqual(e.meta);
              }
              // Each file: one stream, inside one range, its figures right.
              for (const f of files) {
                const mine = rows.filter((r) => r.stream === f.stream && (r.position as number) >= f.firstPosition && (r.position as number) <= f.lastPosition);
                expect(mine.length).toBe(f.rows);
                expect(Math.floor((f.firstPosition - 1) / width)).toBe(Math.floor((f.lastPosition - 1) / width));
                expect(f.minTime).toBe(Math.min(...mine.map((r) => r.time as number)));
                expect(f.maxTime).toBe(Math.max(...mine.map((r) => r.time as number)));
              }
            }
            // Nothing new: nothing exported again.
            expect(await store.exportHistory({ dir: folder })).toMatchObject({ rangesExported: 0, rowsExported: 0, rangePositions: width });
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);

  it('starts over for another store behind the same location, or another range width', async () => {
    const schema = freshSchema('hx');
    schemas.push(schema);
    const folder = join(dir.path, 'again');
    let store = await PostgresStore.open(storeUrl(schema));
    await appendBatches(store, [10, 10], 0);
    expect(await store.exportHistory({ dir: folder, rangePositions: 5 })).toMatchObject({ rangesExported: 4, restarted: null });
    expect(await store.exportHistory({ dir: folder, rangePositions: 10 })).toMatchObject({ rangesExported: 2, restarted: expect.stringMatching(/ranges of 5 positions/) });
    await store.close();

    await dropSchema(schema);
    store = await PostgresStore.open(storeUrl(schema));
    try {
      await appendBatches(store, [3], 0);
      const report = await store.exportHistory({ dir: folder });
      expect(report).toMatchObject({ rangesExported: 0, files: 0, restarted: expect.stringMatching(/another store/) });
      expect(store.sealedHistory()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
