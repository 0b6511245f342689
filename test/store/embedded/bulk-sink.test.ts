/**
 * The bulk writer's sink, on its thread or in the caller's, seals exactly what the store's own sealing
 * writes: the same batches appended through `EmbeddedStore.append` and sealed by `seal()` give the
 * same WAL, Arrow, Parquet and manifest files, byte for byte — across segment ends, with non-ASCII
 * keys and payloads (whose texts the sink reads back out of the segment's bytes).
 *
 * Arrow files carry a dictionary id that apache-arrow numbers per thread (a counter of dictionary
 * types made so far), so byte equality needs both writers to start from the same count: the store
 * here seals first on the test's thread, the sink thread starts afresh. The in-thread sink comes after
 * them on the test's thread, so its Arrow files are compared by content.
 */
import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore, type JsonValue, type StoredEvent } from 'spive';
import { BulkWriter } from '../../../src/store/embedded/bulk-writer.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { expectSameStoreFiles, storeFiles } from '../../helpers/store-files.ts';

interface Batch {
  stream: string;
  key: string;
  events: Array<{ type: string; time: number; data: Record<string, JsonValue>; meta?: Record<string, JsonValue> }>;
}

function batches(): Batch[] {
  const out: Batch[] = [];
  const keys = ['a', 'ü-ñ', 'k/1', '日本'];
  for (let i = 0; i < 300; i++) {
    const n = 1 + (i % 3);
    out.push({
      stream: i % 4 === 0 ? 'out' : 'in',
      key: keys[i % keys.length] as string,
      events: Array.from({ length: n }, (_, j) => ({
        type: j === 0 ? 'Tick' : 'Tock',
        time: 1_700_000_000_000 + i * 10 + j,
        data: { n: i * 10 + j, memo: `${'é'.repeat(i % 7)} memo ${i} “quoted”`.repeat(1 + (i % 5)), ...(i % 5 === 0 ? { amount: i / 4 } : {}) },
        ...(i % 2 === 0 ? { meta: { v: 'v1', m: i, in: [0, i] } } : {}),
      })),
    });
  }
  return out;
}

function columnsOf(bytes: Buffer): Record<string, unknown[]> {
  const table = tableFromIPC(bytes);
  return Object.fromEntries(table.schema.fields.map((f) => [f.name, [...(table.getChild(f.name) ?? [])]]));
}

/** A segment manifest without the Arrow files' sizes and checksums. */
function manifestOf(bytes: Buffer): unknown {
  const manifest = JSON.parse(bytes.toString()) as { streams: Array<Record<string, unknown>> };
  return { ...manifest, streams: manifest.streams.map(({ bytes: _bytes, blockCrcs: _crcs, ...rest }) => rest) };
}

async function bulk(dir: string, thread: boolean): Promise<void> {
  const writer = await BulkWriter.create(dir, { segmentBytes: 8192, thread });
  const seqs = new Map<string, number>();
  let position = 0;
  for (const b of batches()) {
    const id = `${b.stream}\u0000${b.key}`;
    const seq = seqs.get(id) ?? 0;
    seqs.set(id, seq + b.events.length);
    const events = b.events.map((e, i) => ({ stream: b.stream, key: b.key, seq: seq + i + 1, position: position + i + 1, ...e }) as StoredEvent);
    position += events.length;
    writer.append({ stream: b.stream, key: b.key, events, dataTexts: b.events.map((e) => JSON.stringify(e.data)), metaTexts: b.events.map((e) => (e.meta === undefined ? undefined : JSON.stringify(e.meta))) });
    if (writer.buffered > 20_000) await writer.flush();
  }
  await writer.finish();
}

describe('bulk sink', () => {
  it('seals byte for byte what the store seals, on its thread and in the caller', async () => {
    const d = tempDir();
    try {
      const store = await EmbeddedStore.open(`${d.path}/appended`, { segmentBytes: 8192 });
      for (const b of batches()) await store.append(b.stream, b.key, b.events);
      await store.seal();
      await store.close();
      await bulk(`${d.path}/thread`, true);
      await bulk(`${d.path}/inline`, false);
      const expected = storeFiles(`${d.path}/appended`);
      expect([...expected.keys()].filter((p) => p.endsWith('.parquet')).length).toBeGreaterThan(4); // several segments, both streams
      expectSameStoreFiles(`${d.path}/thread`, `${d.path}/appended`, 'thread: ');
      const inline = storeFiles(`${d.path}/inline`);
      expect([...inline.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [path, bytes] of expected) {
        const got = inline.get(path) as Buffer;
        if (path.endsWith('.arrow')) expect(columnsOf(got), `inline: ${path}`).toEqual(columnsOf(bytes));
        else if (path.startsWith('columns/')) expect(manifestOf(got), `inline: ${path}`).toEqual(manifestOf(bytes));
        else expect(got.equals(bytes), `inline: ${path}`).toBe(true);
      }
    } finally {
      d.cleanup();
    }
  }, 60_000);
});
