/**
 * Lean column scans (column-reads.ts, column-layout.ts, column-blocks.ts, lean-column-batch.ts): on
 * the real file system a scan reads only key, type, time and the wanted fields of each sealed Arrow
 * file, and seq/position when first used. Checked here: the batches equal the whole-file decode,
 * column by column; a flipped byte in a block the scan reads fails it with CORRUPT naming the block,
 * one in the seq column fails exactly when seq is used (so no unverified byte is ever handed out), and
 * any scan that names no fields (as `spive store verify`) reads and checks whole files;
 * a torn file fails; a stale batch's lazy column is an error; and the replay fold over lean batches
 * (a handler reading seq and position, emitting outputs) equals the fold over whole-file batches,
 * while a corrupt lazily read column fails the fold instead of falling back.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineProcess, defineStream, EmbeddedStore, type ColumnBatch, type ProcessDef } from 'spive';
import { CorruptDataError } from '../../../src/model/errors.ts';
import { foldColumns, type FoldStart } from '../../../src/replay/columnar-fold.ts';
import { ColumnFileBlocks } from '../../../src/store/embedded/column-blocks.ts';
import { readColumnLayout, type ColumnFileLayout } from '../../../src/store/embedded/column-layout.ts';
import { withLazyColumns } from '../../../src/store/embedded/lean-column-batch.ts';
import { COLUMN_BLOCK_BYTES, decodeColumnFile, type ColumnFileInfo } from '../../../src/store/embedded/columnar-segment.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const T0 = 1_700_000_000_000;
const EVENTS = 300_000; // one segment: a ~14 MiB Arrow file, so its columns span several 1 MiB blocks
const KEYS = 50;

let path: string;
let file: string;
let info: ColumnFileInfo;
let layout: ColumnFileLayout;
let cleanup: () => void;
const open_: EmbeddedStore[] = [];

beforeAll(async () => {
  const d = tempDir('spive-lean-reads-');
  cleanup = d.cleanup;
  path = d.path;
  const writer = await EmbeddedStore.open(path, { parquet: false, warn: () => undefined });
  for (let b = 0; b < EVENTS / 5000; b++) {
    // Two numeric fields; every 100th event lacks `qty` (NaN in its column).
    const events = Array.from({ length: 5000 }, (_, i) => ({ type: i % 3 === 0 ? 'Sold' : 'Bought', time: T0 + b * 5000 + i, data: i % 100 === 0 ? { price: b * 5000 + i } : { price: b * 5000 + i, qty: i % 7 } }));
    await writer.append('ticks', `k${b % KEYS}`, events);
  }
  await writer.seal();
  await writer.close();
  const manifest = JSON.parse(readFileSync(`${path}/columns/0000000001.json`, 'utf8')) as { streams: ColumnFileInfo[] };
  info = manifest.streams[0] as ColumnFileInfo;
  file = `${path}/${info.file}`;
  expect(info.rows).toBe(EVENTS);
  expect(info.bytes).toBeGreaterThan(2 * COLUMN_BLOCK_BYTES);
  const fd = openSync(file, 'r');
  try {
    layout = (await readColumnLayout(new ColumnFileBlocks(file, info, new Uint8Array(info.bytes)), fd)) as ColumnFileLayout;
  } finally {
    closeSync(fd);
  }
  expect(layout).not.toBeNull();
  return () => cleanup();
});

afterEach(async () => {
  for (const s of open_.splice(0)) await s.close();
});

async function reopen(): Promise<EmbeddedStore> {
  const store = await EmbeddedStore.open(path, { readOnly: true, warn: () => undefined });
  open_.push(store);
  return store;
}

async function batches(fields?: readonly string[]): Promise<ColumnBatch[]> {
  const out: ColumnBatch[] = [];
  for await (const b of (await reopen()).scanColumns('ticks', fields === undefined ? {} : { fields })) {
    out.push({ ...b, keyIndex: b.keyIndex.slice(), typeIndex: b.typeIndex.slice(), seq: b.seq.slice(), time: b.time.slice(), position: b.position.slice(), fields: Object.fromEntries(Object.entries(b.fields).map(([k, v]) => [k, v.slice()])) });
  }
  return out;
}

/** A typed array's bytes (a fast exact comparison: NaN patterns included). */
function bytesOf(a: Int32Array | Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Flips one byte of the file for the duration of `body`. */
async function flipped<T>(at: number, body: () => Promise<T>): Promise<T> {
  const original = readFileSync(file);
  const bad = Buffer.from(original);
  bad[at] = (bad[at] as number) ^ 0x5a;
  writeFileSync(file, bad);
  try {
    return await body();
  } finally {
    writeFileSync(file, original);
  }
}

/** A block that lies wholly inside the column `name`. */
function blockInside(name: string): number {
  const r = layout.columns.get(name) as { offset: number; length: number };
  const first = Math.ceil(r.offset / COLUMN_BLOCK_BYTES) * COLUMN_BLOCK_BYTES;
  expect(first + COLUMN_BLOCK_BYTES).toBeLessThanOrEqual(r.offset + r.length);
  return first;
}

describe('lean column scans', () => {
  it('hand out exactly the whole-file decode, with lazily read seq and position', async () => {
    const whole = decodeColumnFile(file, info, new Uint8Array(readFileSync(file)));
    for (const fields of [undefined, ['qty'], ['price', 'missing'], []]) {
      const got = await batches(fields);
      expect(got).toHaveLength(1);
      const b = got[0] as ColumnBatch;
      expect(b.keys).toEqual(whole.keys);
      expect(b.types).toEqual(whole.types);
      for (const c of ['keyIndex', 'typeIndex', 'seq', 'time', 'position'] as const) expect(bytesOf(b[c]).equals(bytesOf(whole[c])), c).toBe(true);
      const wanted = fields ?? ['price', 'qty'];
      expect(Object.keys(b.fields)).toEqual(wanted);
      for (const f of wanted) {
        const expected = f === 'missing' ? new Float64Array(EVENTS).fill(Number.NaN) : (whole.fields[f] as Float64Array);
        expect(bytesOf(b.fields[f] as Float64Array).equals(bytesOf(expected)), f).toBe(true);
      }
    }
  });

  it('cross to a worker (a structured clone) without seq and position, which the worker reads and checks from the file', async () => {
    const whole = decodeColumnFile(file, info, new Uint8Array(readFileSync(file)));
    const store = await reopen();
    const seq = blockInside('seq');
    for await (const b of store.scanColumns('ticks', { fields: ['price'], shared: true })) {
      expect(b.keyIndex.buffer).toBeInstanceOf(SharedArrayBuffer);
      const posted = structuredClone(b); // what postMessage does: seq and position are not read here
      expect(Object.keys(posted)).not.toContain('seq');
      const received = withLazyColumns(posted);
      expect(bytesOf(received.time).equals(bytesOf(whole.time))).toBe(true);
      expect(bytesOf(received.seq).equals(bytesOf(whole.seq))).toBe(true);
      expect(bytesOf(received.position).equals(bytesOf(whole.position))).toBe(true);
      // On the main thread the batch reads them too.
      expect(bytesOf(b.seq).equals(bytesOf(whole.seq))).toBe(true);
      await flipped(seq + 5, async () => {
        const again = withLazyColumns(structuredClone(b));
        expect(bytesOf(again.time).equals(bytesOf(whole.time))).toBe(true);
        expect(() => again.seq).toThrow(`corrupt data in ${file} at offset ${seq}: checksum mismatch`);
      });
    }
  });

  it('fail with CORRUPT on a flipped byte in a block they read; a byte in the seq column fails only its use', async () => {
    const time = blockInside('time');
    await flipped(time + 123, async () => {
      await expect(batches(['price'])).rejects.toMatchObject({ code: 'CORRUPT', file, offset: time });
    });
    const seq = blockInside('seq');
    await flipped(seq + 5, async () => {
      const store = await reopen();
      for await (const b of store.scanColumns('ticks', { fields: ['price'] })) {
        expect(b.time[7]).toBe(T0 + 7); // the columns read now are fine
        expect(() => b.seq).toThrow(CorruptDataError);
        expect(() => b.seq).toThrow(`corrupt data in ${file} at offset ${seq}: checksum mismatch`);
      }
    });
  });

  it('read whole files, every block checked, when no fields are named (store verify counts on it)', async () => {
    const seq = blockInside('seq');
    const rows = async (fields?: readonly string[]) => {
      let n = 0;
      for await (const b of (await reopen()).scanColumns('ticks', fields === undefined ? {} : { fields })) n += b.length;
      return n;
    };
    await flipped(seq + 5, async () => {
      await expect(rows()).rejects.toMatchObject({ code: 'CORRUPT', file, offset: seq });
      expect(await rows(['price'])).toBe(EVENTS); // seq is never used: never read
    });
  });

  it('fail with CORRUPT on a torn file', async () => {
    const original = readFileSync(file);
    truncateSync(file, info.bytes - 100);
    try {
      await expect(batches()).rejects.toMatchObject({ code: 'CORRUPT', file, offset: info.bytes - 100 });
    } finally {
      writeFileSync(file, original);
    }
  });

  it('read a file again with its layout known (no footer reads): the same columns, and damage still found', async () => {
    const store = await reopen();
    const scan = async () => {
      // A digest of the columns handed out (comparing megabytes with toEqual is slow).
      const out: string[] = [];
      for await (const b of store.scanColumns('ticks', { fields: ['price'] })) {
        out.push([bytesOf(b.keyIndex), bytesOf(b.time), bytesOf(b.fields.price as Float64Array), bytesOf(b.seq)].map((x) => createHash('sha256').update(x).digest('hex')).join(' '));
      }
      return out;
    };
    const first = await scan(); // reads the layout
    expect(await scan()).toEqual(first);
    const time = blockInside('time');
    await flipped(time + 9, async () => {
      await expect(scan()).rejects.toMatchObject({ code: 'CORRUPT', file, offset: time });
    });
    const original = readFileSync(file);
    truncateSync(file, info.bytes - 100);
    try {
      await expect(scan()).rejects.toMatchObject({ code: 'CORRUPT', file });
    } finally {
      writeFileSync(file, original);
    }
    expect(await scan()).toEqual(first);
  });

  it('refuse to read a lazy column after the scan has moved on; keep the last batch intact', async () => {
    // Two sealed files: the first batch's buffer is reused for the third read, so its seq must not be read then.
    const d = tempDir('spive-lean-stale-');
    try {
      const writer = await EmbeddedStore.open(d.path, { parquet: false, segmentBytes: 4096, warn: () => undefined });
      for (let i = 0; i < 200; i += 10) await writer.append('a', 'k', Array.from({ length: 10 }, (_, j) => ({ type: 'T', time: T0 + i + j, data: { v: i + j } })));
      await writer.seal();
      await writer.close();
      const store = await EmbeddedStore.open(d.path, { readOnly: true });
      try {
        const held: ColumnBatch[] = [];
        for await (const b of store.scanColumns('a', { fields: ['v'] })) held.push(b);
        expect(held.length).toBeGreaterThanOrEqual(3);
        expect(() => (held[0] as ColumnBatch).seq).toThrow(/read after the scan moved on/);
        // The last batch stays valid after its scan, even while later scans reuse the store's other buffers.
        const last = held.at(-1) as ColumnBatch;
        const before = [...last.time];
        let rows = 0;
        for (let k = 0; k < 3; k++) for await (const b of store.scanColumns('a', { fields: ['v'] })) rows += b.length + 0 * (b.seq[0] as number);
        expect(rows).toBe(3 * 200);
        expect([...last.time]).toEqual(before);
        expect([...last.seq]).toEqual(Array.from({ length: last.length }, (_, i) => 200 - last.length + i + 1));
      } finally {
        await store.close();
      }
    } finally {
      d.cleanup();
    }
  });
});

// ------------------------------------------------------------------ the fold over lean batches

interface Tally {
  n: number;
  seqs: number;
  last: number;
}
const ticks = defineStream<{ Sold: { price: number; qty: number }; Bought: { price: number; qty: number } }>('ticks');
const out = defineStream<{ Seen: { at: number } }>('tally');
const tally = defineProcess({
  name: 'tally',
  version: 't',
  inputs: { ticks },
  output: out,
  reads: ['price'],
  initial: (): Tally => ({ n: 0, seqs: 0, last: 0 }),
  on: {
    ticks: {
      // Reads seq and position (lazily read columns) and emits, so outputs carry positions too.
      Sold(s, e, ctx) {
        if (e.seq % 97 === 0) ctx.emit('Seen', { at: e.position });
        return { n: s.n + 1, seqs: s.seqs + e.seq, last: e.position + e.data.price };
      },
      Bought: (s) => ({ ...s, n: s.n + 1 }),
    },
  },
}) as unknown as ProcessDef<unknown>;

async function foldAll(shared: boolean) {
  const shards = new Map<string, FoldStart>();
  for (let k = 0; k < KEYS; k++) shards.set(`k${k}`, { state: tally.initial(`k${k}`), afterM: 0 });
  const batches = (await reopen()).scanColumns('ticks', { fields: ['price'], shared });
  return foldColumns({ process: tally, version: 't', batches, m: null, limit: EVENTS, shards });
}

describe('the columnar fold over lean batches', () => {
  it('equals the fold over whole-file batches, outputs included', async () => {
    const lean = await foldAll(false);
    const whole = await foldAll(true); // a shared scan reads whole files
    expect(lean.fallback.size).toBe(0);
    expect(lean.scanned).toBe(EVENTS);
    expect([...lean.shards]).toEqual([...whole.shards]);
    expect([...lean.shards.values()].reduce((n, s) => n + s.outputs.length, 0)).toBeGreaterThan(0);
  });

  it('fails with CORRUPT, rather than falling back, when a lazily read column is corrupt', async () => {
    const position = blockInside('position');
    await flipped(position + 9, async () => {
      await expect(foldAll(false)).rejects.toMatchObject({ code: 'CORRUPT', file, offset: position });
    });
  });
});
