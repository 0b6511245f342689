/**
 * The bulk writer's entry points from parts, which `spive dataset generate` uses (`appendEvent`,
 * `putSnapshotText`), write exactly the store its general ones write (`append` of a one-event batch,
 * `putSnapshot`): the same WAL, Arrow, Parquet and manifest files, byte for byte, for any names, texts,
 * times and metas — non-ASCII ones, quotes, times beyond 2^31, texts whose UTF-8 length has more digits
 * than their UTF-16 length. And the digits and JSON strings they write in place are `String`'s and
 * `JSON.stringify`'s.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from 'spive';
import { putAsciiJsonString, putInteger } from '../../src/store/embedded/bulk-ascii.ts';
import { BulkWriter } from '../../src/store/embedded/bulk-writer.ts';
import { expectSameStoreFiles } from '../helpers/store-files.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const name = fc.constantFrom('a', 'ü-ñ', 'k/1', 'q"uote', 'back\\slash', '日本');
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('é'.repeat(5), 'é'.repeat(50), '日'.repeat(4), '𝄞'.repeat(3)));

type Op =
  | { kind: 'event'; stream: string; key: string; type: string; time: number; data: { n: number; s: string } | null; meta?: { v: string; m: number; in: [number, number] } }
  | { kind: 'snapshot'; version: string; shard: string; position: number; time: number; text: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        kind: fc.constant('event' as const),
        stream: fc.constantFrom('s1', 's2'),
        key: name,
        type: fc.constantFrom('T', 'Ü"t', '$progress'),
        time: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }), fc.constant(1_704_067_200_000), fc.integer({ min: -1e12, max: -1 })),
        data: fc.option(fc.record({ n: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), s: text }), { nil: null }),
        meta: fc.record({ v: fc.constantFrom('v1', 'é"2'), m: fc.maxSafeNat(), in: fc.tuple(fc.nat(3), fc.maxSafeNat()) }),
      },
      { requiredKeys: ['kind', 'stream', 'key', 'type', 'time', 'data'] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), version: fc.constantFrom('v1', 'é"2'), shard: name, position: fc.nat(1e6), time: fc.integer({ min: -1e12, max: 1e13 }), text }) },
);

async function write(dir: string, ops: readonly Op[], parts: boolean): Promise<void> {
  const writer = await BulkWriter.create(dir, { segmentBytes: 4096 });
  const seqs = new Map<string, number>();
  const cells = new Map<string, object>();
  let position = 0;
  for (const o of ops) {
    if (o.kind === 'snapshot') {
      if (parts) writer.putSnapshotText('p', o.version, o.shard, o.position, o.time, o.text);
      else writer.putSnapshot({ process: 'p', version: o.version, shard: o.shard, position: o.position, time: o.time, data: new TextEncoder().encode(o.text) });
      continue;
    }
    const id = `${o.stream}\u0000${o.key}`;
    const seq = (seqs.get(id) ?? 0) + 1;
    seqs.set(id, seq);
    position++;
    const cell = cells.get(id) ?? (cells.set(id, {}).get(id) as object);
    const dataText = JSON.stringify(o.data);
    if (parts) writer.appendEvent(cell, o.stream, o.key, seq, position, o.time, o.type, dataText, o.data, o.meta?.v, o.meta?.m ?? 0, o.meta?.in[0] ?? 0, o.meta?.in[1] ?? 0);
    else {
      const event = { stream: o.stream, key: o.key, seq, position, time: o.time, type: o.type, data: o.data } as StoredEvent;
      writer.append({ stream: o.stream, key: o.key, events: [event], dataTexts: [dataText], ...(o.meta === undefined ? {} : { outputMeta: o.meta }), cell });
    }
    if (writer.buffered > 3000) await writer.flush();
  }
  await writer.finish();
}

describe('bulk writer from parts', () => {
  it('writes byte for byte the store that one-event batches and byte snapshots write', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
        const d = tempDir();
        try {
          // Each on a sink thread of its own: Arrow's dictionary ids count per thread (bulk-sink.test.ts).
          await write(`${d.path}/general`, ops, false);
          await write(`${d.path}/parts`, ops, true);
          expectSameStoreFiles(`${d.path}/parts`, `${d.path}/general`);
        } finally {
          d.cleanup();
        }
      }),
      { numRuns: 8 },
    );
  }, 120_000);

  it('checks the parts as the general entry points do', async () => {
    const d = tempDir();
    try {
      const writer = await BulkWriter.create(`${d.path}/s`, { parquet: false });
      writer.appendEvent(undefined, 's', 'k', 1, 1, 5, 'T', 'null', null, undefined, 0, 0, 0);
      expect(() => writer.appendEvent(undefined, 's', 'k', 2, 3, 5, 'T', 'null', null, undefined, 0, 0, 0)).toThrow(/position 3 does not follow 1/);
      expect(() => writer.appendEvent(undefined, 's', 'k', 3, 2, 5, 'T', 'null', null, undefined, 0, 0, 0)).toThrow(/seq 3 does not follow 1/);
      expect(() => writer.appendEvent(undefined, 's', 'k', 2, 2, 5.5, 'T', 'null', null, undefined, 0, 0, 0)).toThrow(/integer event time/);
      expect(() => writer.appendEvent(undefined, 's', 'k', 2, 2, 5, 'T', 'null', null, 'v', 1.5, 0, 0)).toThrow(/integers m and in/);
      expect(() => writer.putSnapshotText('p', '', 'a', 1, 1, '{}')).toThrow(/snapshot.version/);
      expect(() => writer.putSnapshotText('p', 'v', 'a', -1, 1, '{}')).toThrow(/snapshot.position/);
      writer.appendEvent(undefined, 's', 'k', 2, 2, 5, 'T', 'null', null, 'v', 1, 0, 1); // refused appends changed nothing
      expect((await writer.finish()).events).toBe(2);
    } finally {
      d.cleanup();
    }
  });

  it('writes integers as String does, and ASCII JSON strings as JSON.stringify does', () => {
    const buf = new Uint8Array(64);
    const asText = (n: number) => new TextDecoder().decode(buf.subarray(0, n));
    const numbers = fc.oneof(fc.maxSafeInteger(), fc.integer(), fc.double(), fc.integer({ min: 1, max: 9_007_199 }).map((k) => k * 1e9 - 1), fc.constantFrom(0, -0, 2 ** 31 - 1, 2 ** 31, 1e9, 1e9 - 1, 2 ** 31 * 1e9, Number.MAX_SAFE_INTEGER, 9_007_198_999_999_999, 8_999_999_999_999_999, 1_704_067_200_000, 1e21, 0.5));
    fc.assert(
      fc.property(numbers, (n) => {
        expect(asText(putInteger(buf, 0, n))).toBe(String(n));
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 20, unit: fc.oneof(fc.constantFrom('a', '"', '\\', '\n', '\u007f', 'é', '\u0000'), fc.string({ minLength: 1, maxLength: 1 })) }), (s) => {
        const n = putAsciiJsonString(buf, 0, s);
        const plain = [...s].every((c) => c >= ' ' && c <= '~' && c !== '"' && c !== '\\');
        if (plain) expect(asText(n)).toBe(JSON.stringify(s));
        else expect(n).toBe(-1);
      }),
    );
  });
});
