/**
 * A bulk load's sink thread hands the buffers it is done with back to the writer, which encodes into
 * them again (bulk-spares.ts). A buffer must come back only once nothing uses it: not while a later
 * piece of it is still to be written, nor while its segment waits to be sealed to Parquet from those
 * bytes. With small chunks going round many times, across many segment ends, the store is still byte
 * for byte the one a writer makes that never gets a buffer back (one chunk, handed on at the end),
 * itself checked against the store's own appends and sealing in bulk-sink.test.ts. Both run their sink
 * on a thread of its own, so their Arrow files number dictionaries alike (see that test).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from 'spive';
import { BulkWriter } from '../../src/store/embedded/bulk-writer.ts';
import { SpareBuffers } from '../../src/store/embedded/bulk-spares.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { expectSameStoreFiles } from '../helpers/store-files.ts';

interface Input {
  readonly key: string;
  readonly memo: string;
  readonly amount: number;
  /** Output events carry a meta; inputs none. */
  readonly output: boolean;
}

const input = fc.record({
  key: fc.constantFrom('a', 'ü-ñ', 'k/1', '日本'),
  memo: fc.string({ unit: 'grapheme', maxLength: 60 }),
  amount: fc.integer({ min: -1000, max: 1000 }),
  output: fc.boolean(),
});

/**
 * The events through a bulk writer with its sink on a thread: in pieces of at most `chunkBytes`,
 * flushed every few events, or (`chunkBytes` undefined) in one chunk handed on at the end.
 */
async function viaBulk(dir: string, inputs: readonly Input[], segmentBytes: number, chunkBytes: number | undefined): Promise<number> {
  const writer = await BulkWriter.create(dir, { segmentBytes, thread: true, ...(chunkBytes === undefined ? {} : { chunkBytes }) });
  const seqs = new Map<string, number>();
  let m = 0;
  for (const e of inputs) {
    m++;
    const stream = e.output ? 'out' : 'in';
    const seq = (seqs.get(`${stream}/${e.key}`) ?? 0) + 1;
    seqs.set(`${stream}/${e.key}`, seq);
    const data = { memo: e.memo, amount: e.amount };
    if (m % 3 === 0) {
      const event = { stream, key: e.key, seq, position: m, time: 1_700_000_000_000 + m, type: 'Moved', data, ...(e.output ? { meta: { v: 'v1', m, in: [0, m] } } : {}) } as StoredEvent;
      writer.append({ stream, key: e.key, events: [event], dataTexts: [JSON.stringify(data)], ...(e.output ? { outputMeta: { v: 'v1', m, in: [0, m] } } : {}) });
    } else writer.appendEvent(undefined, stream, e.key, seq, m, 1_700_000_000_000 + m, 'Moved', JSON.stringify(data), data, e.output ? 'v1' : undefined, m, 0, m);
    if (chunkBytes !== undefined && m % 7 === 0) {
      await writer.flush();
      // Time for the thread to write and seal, as it has while a real load folds: buffers then come back
      // (the first seal opens DuckDB, so the wait is longer until one has).
      await new Promise((resolve) => setTimeout(resolve, writer.reusedBuffers === 0 ? 80 : 5));
    }
  }
  await writer.finish();
  return writer.reusedBuffers;
}

describe('dataset sink buffers', () => {
  it('come back from the sink thread only when done with: the store is the same, byte for byte', async () => {
    let reused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 200, maxLength: 300 }), fc.integer({ min: 6000, max: 16_000 }), fc.integer({ min: 1024, max: 4096 }), async (inputs, segmentBytes, chunkBytes) => {
        const d = tempDir('spive-dataset-buffers-');
        try {
          expect(await viaBulk(`${d.path}/whole`, inputs, segmentBytes, undefined)).toBe(0);
          reused += await viaBulk(`${d.path}/pieces`, inputs, segmentBytes, chunkBytes);
          expectSameStoreFiles(`${d.path}/pieces`, `${d.path}/whole`);
        } finally {
          d.cleanup();
        }
      }),
      { numRuns: 2 },
    );
    // The buffers did go round (else this tested nothing).
    expect(reused).toBeGreaterThan(0);
  }, 240_000);

  it('are encoded into again only at the size the writer uses', () => {
    const spares = new SpareBuffers(4096);
    spares.add({ bytes: [new ArrayBuffer(4096), new ArrayBuffer(1000)], records: [new ArrayBuffer(8 * 10), new ArrayBuffer(8 * 64), new ArrayBuffer(8 * 64)] });
    const chunk = spares.chunk();
    expect(chunk.byteLength).toBe(4096);
    expect(spares.reused).toBe(1);
    expect(spares.chunk().byteLength).toBe(4096); // none left of that size: a new one
    expect(spares.reused).toBe(1);
    expect(spares.recordBuffer(64)?.length).toBe(64);
    expect(spares.recordBuffer(64)?.length).toBe(64);
    expect(spares.recordBuffer(64)).toBeUndefined();
    expect(spares.recordBuffer(10)).toBeUndefined(); // dropped when 64 was asked for: the writer's buffer only grows
    expect(spares.reused).toBe(3);
  });
});
