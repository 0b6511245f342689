/**
 * `importEvents`: CSV, JSON lines and Parquet logs become events (key, time, type, remaining columns
 * as data), in file order per key; bad rows are reported with file and row, and then nothing at all
 * is appended.
 */
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore } from 'spive';
import { BadRowsError, importEvents } from '../../analyzer/import/import-events.ts';
import { parseIsoTime, parseTimeCell } from '../../analyzer/import/values.ts';
import { collect } from '../helpers/async.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const dir = tempDir('spive-import-');
afterAll(() => dir.cleanup());
let files = 0;
const file = (ext: string, text: string) => {
  const path = `${dir.path}/f${files++}.${ext}`;
  writeFileSync(path, text);
  return path;
};

interface Row {
  user: string;
  ts: number;
  kind: string;
  amount: number;
  note: string;
}

const row = fc.record({
  user: fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/),
  ts: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  kind: fc.constantFrom('Click', 'View', 'Buy'),
  amount: fc.integer({ min: -1_000_000, max: 1_000_000 }),
  note: fc.string({ maxLength: 20 }).filter((s) => !/[\u0000-\u001f"\\,\u2028\u2029]/.test(s) && s.trim() === s && s !== ''),
});

async function imported(path: string, extra: Partial<Parameters<typeof importEvents>[0]> = {}) {
  const store = new MemoryStore();
  const result = await importEvents({ file: path, store, stream: 'clicks', keyColumn: 'user', timeColumn: 'ts', typeColumn: 'kind', ...extra });
  return { result, events: await collect(store.readStream('clicks')), store };
}

describe('import', () => {
  it('round-trips JSON lines and CSV: every row becomes one event, file order kept per key', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 40 }), fc.boolean(), async (rows, iso) => {
        const time = (r: Row) => (iso ? new Date(r.ts).toISOString() : r.ts);
        const jsonl = file('jsonl', rows.map((r) => JSON.stringify({ ...r, ts: time(r) })).join('\n'));
        const csv = file('csv', `user,ts,kind,amount,note\n${rows.map((r) => `${r.user},${time(r)},${r.kind},${r.amount},${r.note}`).join('\n')}\n`);
        for (const path of [jsonl, csv]) {
          const { result, events } = await imported(path);
          expect(result.events).toBe(rows.length);
          expect(result.keys).toBe(new Set(rows.map((r) => r.user)).size);
          expect(result.minTime).toBe(Math.min(...rows.map((r) => r.ts)));
          expect(result.maxTime).toBe(Math.max(...rows.map((r) => r.ts)));
          for (const user of new Set(rows.map((r) => r.user))) {
            const want = rows.filter((r) => r.user === user).map((r) => ({ type: r.kind, time: r.ts, data: { amount: r.amount, note: r.note } }));
            expect(events.filter((e) => e.key === user).map((e) => ({ type: e.type, time: e.time, data: e.data })), `${path} ${user}`).toEqual(want);
          }
        }
      }),
      { numRuns: 15 },
    );
  }, 60_000);

  it('reads Parquet with typed columns: timestamps, BIGINTs and nested values become JSON', async () => {
    const path = `${dir.path}/t.parquet`;
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run(`COPY (SELECT * FROM (VALUES ('a', TIMESTAMP '2024-03-01 10:00:00.250', 9007199254740993::BIGINT, 12::BIGINT, {'x': 1, 'y': [1, 2]}, 1.5::DOUBLE),
                                             ('b', TIMESTAMP '2024-03-01 11:00:00', 1::BIGINT, NULL, NULL, 2.0::DOUBLE)) t(origin, date, big, small, nested, delay))
                 TO '${path}' (FORMAT parquet)`);
    c.closeSync();
    db.closeSync();
    const { result, events } = await imported(path, { keyColumn: 'origin', timeColumn: 'date', typeColumn: undefined, typeValue: 'Flight' });
    expect(result.format).toBe('parquet');
    expect(events.map((e) => [e.key, e.type, e.time])).toEqual([['a', 'Flight', Date.UTC(2024, 2, 1, 10, 0, 0, 250)], ['b', 'Flight', Date.UTC(2024, 2, 1, 11)]]);
    expect(events[0]?.data).toEqual({ big: '9007199254740993', small: 12, nested: { x: 1, y: [1, 2] }, delay: 1.5 });
    expect(events[1]?.data).toEqual({ big: 1, small: null, nested: null, delay: 2 });
  });

  it('reports every bad row with file and row number, and appends nothing', async () => {
    const path = file('csv', 'user,ts,kind\nann,2024-01-01T00:00:00Z,Click\n,2024-01-01T00:00:01Z,Click\nbob,yesterday,Click\ncid,2024-01-01T00:00:02Z,\n$sys,5,Click\ndan,7,View\n');
    const store = new MemoryStore();
    const error = await importEvents({ file: path, store, stream: 'clicks', keyColumn: 'user', timeColumn: 'ts', typeColumn: 'kind' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRowsError);
    const bad = error as BadRowsError;
    expect(bad.rows.map((r) => [r.row, r.column])).toEqual([[2, 'user'], [3, 'ts'], [4, 'kind'], [5, 'user']]);
    expect(bad.message).toContain(`${path}: row 3: ts: unparsable time "yesterday"`);
    expect(bad.total).toBe(4);
    expect((await store.stats()).events).toBe(0);
  });

  it('names a missing column and the columns the file has', async () => {
    const path = file('jsonl', '{"user":"a","ts":1}\n');
    await expect(importEvents({ file: path, store: new MemoryStore(), stream: 's', keyColumn: 'user', timeColumn: 'when' })).rejects.toThrow(/--time: expected a column of .* \(it has user, ts\), got "when"/);
    await expect(importEvents({ file: `${dir.path}/nope.csv`, store: new MemoryStore(), stream: 's', keyColumn: 'k', timeColumn: 't' })).rejects.toThrow(/not found/);
    await expect(importEvents({ file: file('txt', 'x'), store: new MemoryStore(), stream: 's', keyColumn: 'k', timeColumn: 't' })).rejects.toThrow(/\.parquet, \.csv or \.jsonl/);
  });

  it('parses times: ISO-8601 with or without zone (UTC), integer ms, timestamps', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }), (d) => {
        const iso = d.toISOString();
        expect(parseIsoTime(iso)).toBe(d.getTime());
        expect(parseIsoTime(iso.replace('Z', ''))).toBe(d.getTime());
        expect(parseIsoTime(iso.replace('T', ' ').replace('Z', '+00:00'))).toBe(d.getTime());
        expect(parseTimeCell(String(d.getTime()))).toEqual({ ok: true, value: d.getTime() });
        expect(parseTimeCell(d)).toEqual({ ok: true, value: d.getTime() });
      }),
    );
    expect(parseIsoTime('2024-01-01T12:00:00+02:00')).toBe(Date.UTC(2024, 0, 1, 10));
    expect(parseIsoTime('2024-02-30')).toBeUndefined();
    expect(parseTimeCell(1.5).ok).toBe(false);
    expect(parseTimeCell(null).ok).toBe(false);
  });
});
