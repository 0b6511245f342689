/**
 * The column scan's read path: files read as pieces in flight at once (node-file-system.ts), and
 * scanColumns reading the next column file while the consumer holds this one's batch
 * (column-reads.ts) — a batch handed out stays intact until the next is asked for (three more when
 * shared), and a scan stopped early leaves no read behind.
 */
import { writeFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore, ScanBuffers, type ColumnBatch, type ScanColumnsOptions, type StoredEvent } from 'spive';
import { readPieces } from '../../../src/store/embedded/node-file-system.ts';
import { SCAN_SLOTS, SHARED_SCAN_SLOTS } from '../../../src/store/scan-buffers.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const T0 = 1_700_000_000_000;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(): string {
  const d = tempDir('spive-column-reads-');
  cleanups.push(d.cleanup);
  return d.path;
}

/** A store of `n` events over several sealed segments (stream 'a'), closed and reopened. */
async function sealedStore(n: number): Promise<EmbeddedStore> {
  const path = dir();
  const writer = await EmbeddedStore.open(path, { segmentBytes: 4096, warn: () => undefined });
  for (let i = 0; i < n; i += 10) {
    await writer.append('a', `k${(i / 10) % 7}`, Array.from({ length: 10 }, (_, j) => ({ type: 'T', time: T0 + i + j, data: { amount: i + j } })));
  }
  await writer.seal();
  await writer.close();
  const store = await EmbeddedStore.open(path, { warn: () => undefined });
  cleanups.push(() => store.close());
  return store;
}

/** The rows of a batch as [key, seq, position, amount]. */
function rows(c: ColumnBatch): Array<[string, number, number, number]> {
  return Array.from({ length: c.length }, (_, i) => [c.keys[c.keyIndex[i] as number] as string, c.seq[i] as number, c.position[i] as number, c.fields.amount?.[i] as number]);
}

async function scanRows(store: EmbeddedStore, options: ScanColumnsOptions): Promise<unknown[]> {
  const got: unknown[] = [];
  for await (const c of store.scanColumns('a', options)) got.push(...rows(c));
  return got;
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('column file reads', () => {
  it('reads a file as pieces into a reused buffer, and reports a file shorter than expected', async () => {
    const path = `${dir()}/f`;
    const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31) % 251);
    writeFileSync(path, bytes);
    const handle = await openFile(path, 'r');
    try {
      const into = new Uint8Array(12_000).fill(7);
      expect(await readPieces(handle, into, bytes.byteLength, 999)).toBe(10_000);
      expect(into.subarray(0, 10_000)).toEqual(bytes);
      expect(into[10_000]).toBe(7);
      expect(await readPieces(handle, new Uint8Array(12_000), 12_000, 999)).toBe(10_000);
    } finally {
      await handle.close();
    }
  });

  it('hands out each batch intact while the next file is read, shared or not', async () => {
    const store = await sealedStore(600);
    expect(store.sealedSegments().length).toBeGreaterThan(3);
    const log: StoredEvent[] = [];
    for await (const batch of store.readStream('a')) log.push(...batch);
    const expected = log.map((e) => [e.key, e.seq, e.position, (e.data as { amount: number }).amount]);
    for (const shared of [false, true]) {
      const got: unknown[] = [];
      const held: ColumnBatch[] = [];
      for await (const c of store.scanColumns('a', { fields: ['amount'], shared })) {
        await turn(); // the read of the next file completes meanwhile
        held.push(c);
        // Shared: the batches before this one are still intact too, all but the one whose buffer the
        // next file is being read into (workers fold them while the consumer reads on).
        let end = got.length;
        for (const before of shared ? held.slice(0, -1).slice(-(SHARED_SCAN_SLOTS - 2)).reverse() : []) {
          expect(rows(before)).toEqual(expected.slice(end - before.length, end));
          end -= before.length;
        }
        got.push(...rows(c));
      }
      expect(got).toEqual(expected);
    }
  });

  it("reads a consumer's next scan into the buffers it lent, with the same rows, shared or not", async () => {
    const store = await sealedStore(600);
    const expected = await scanRows(store, { fields: ['amount'] });
    for (const shared of [false, true]) {
      const lent = new ScanBuffers(shared);
      const memory: ArrayBufferLike[][] = [];
      for (let scan = 0; scan < 2; scan++) {
        const buffers: ArrayBufferLike[] = [];
        const got: unknown[] = [];
        for await (const c of store.scanColumns('a', { fields: ['amount'], buffers: lent })) {
          buffers.push(c.time.buffer);
          got.push(...rows(c)); // seq and position too: lazy columns, read on use, checked still theirs
        }
        expect(got).toEqual(expected);
        memory.push(buffers);
      }
      const [first, second] = memory as [ArrayBufferLike[], ArrayBufferLike[]];
      expect(first.every((b) => b instanceof SharedArrayBuffer)).toBe(shared);
      expect(new Set(first).size).toBe(shared ? SHARED_SCAN_SLOTS : SCAN_SLOTS); // in turn
      expect(second.every((b, i) => b === first[i])).toBe(true); // no new memory: the same ones, in the same turn
    }
  });

  it('rejects a `shared` that disagrees with the lent buffers', async () => {
    const store = await sealedStore(100);
    await expect(scanRows(store, { shared: false, buffers: new ScanBuffers(true) })).rejects.toThrow(/shared: expected true or nothing/);
    expect(await scanRows(store, { shared: true, buffers: new ScanBuffers(true) })).toEqual(await scanRows(store, {}));
  });

  it('stops early without a read left running', async () => {
    const store = await sealedStore(300);
    for await (const c of store.scanColumns('a', { fields: ['amount'] })) {
      expect(c.length).toBeGreaterThan(0);
      break;
    }
    let n = 0;
    for await (const c of store.scanColumns('a', { fields: ['amount'] })) n += c.length;
    expect(n).toBe(300);
  });
});
