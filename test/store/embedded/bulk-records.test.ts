/**
 * Column records (bulk-records.ts) give the sink exactly the columns `ColumnBuilder` makes of the same
 * events: keys and types numbered by first appearance per segment, numeric payload fields only (NaN,
 * an own `__proto__` field and fields a later event adds included), whatever pieces the records were
 * cut into and however often their buffer grew, and a fresh numbering after each segment end.
 */
import { describe, expect, it } from 'vitest';
import type { JsonValue, StoredEvent } from 'spive';
import { addRecord, RecordWriter, SegmentColumns } from '../../../src/store/embedded/bulk-records.ts';
import { ColumnBuilder } from '../../../src/store/embedded/column-builder.ts';

function events(): StoredEvent[] {
  const datas: JsonValue[] = [
    { n: 1, s: 'é' },
    JSON.parse('{"__proto__": 7, "b": 2.5, "c": "x"}') as JsonValue,
    [1, 2],
    null,
    'text',
    { m: Number.NaN as unknown as number, n: -3 },
    { later: 4, n: 5 },
  ];
  const out: StoredEvent[] = [];
  for (let i = 0; i < 40; i++) {
    const stream = i % 3 === 0 ? 'out' : 'in';
    out.push({ stream, key: `k${(i * 7) % 5}`, seq: i + 1, position: i + 1, time: 1_704_067_200_000 + i, type: i % 4 === 0 ? 'A' : 'B', data: datas[i % datas.length] as JsonValue });
  }
  return out;
}

describe('bulk column records', () => {
  it.each([65536, 1, 7, 12, 13, 14, 25, 26, 27])('build the columns ColumnBuilder builds, across pieces and segment ends (buffer of %i slots at first)', (slots) => {
    const all = events();
    // Small buffers grow inside records too, between an event's fixed slots and its fields.
    const writer = new RecordWriter(slots);
    const columns = new SegmentColumns();
    const segments = [all.slice(0, 17), all.slice(17)];
    for (const segment of segments) {
      segment.forEach((e, i) => {
        addRecord(writer, writer.id(e.stream), writer.id(e.key), writer.id(e.type), e.seq, e.position, e.time, 100 * i, 10, i % 2 === 0 ? 100 * i + 50 : 0, i % 2 === 0 ? 5 : -1, e.data);
        if (i % 6 === 5) columns.add(writer.cut()); // pieces of any size
      });
      columns.add(writer.cut());
      const built = columns.end();
      const streams = [...new Set(segment.map((e) => e.stream))];
      expect(built.map((b) => b.batch.stream)).toEqual(streams);
      for (const { batch, texts } of built) {
        const expected = new ColumnBuilder(batch.stream);
        const own = segment.filter((e) => e.stream === batch.stream);
        expected.addBatch(own);
        const want = expected.batch();
        expect({ ...batch, fields: Object.keys(batch.fields) }).toEqual({ ...want, fields: Object.keys(want.fields) });
        for (const [name, column] of Object.entries(want.fields)) expect([...(batch.fields[name] as Float64Array)]).toEqual([...column]);
        const rows = own.map((e) => segment.indexOf(e));
        expect([...texts]).toEqual(rows.flatMap((i) => [100 * i, 10, i % 2 === 0 ? 100 * i + 50 : 0, i % 2 === 0 ? 5 : -1]));
      }
    }
  });
});
