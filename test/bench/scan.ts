/**
 * Benchmarks over a large sealed store: a columnar scan of the whole history, and reopening it. The
 * store is built once (on demand) and shared by both.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EmbeddedStore, type ColumnBatch } from '../../src/index.ts';
import { bytesIn, bytesUnder, fmt, info, makeBatch, makeTemp, median, readInto, STREAM, tick, type BenchResult } from './util.ts';

export interface BigStoreSizes {
  readonly events: number;
  readonly scanReps: number;
  readonly openReps: number;
}

export interface BigStore {
  readonly dir: string;
  readonly events: number;
  readonly buildMs: number;
}

const BUILD_BATCH = 1000;
const BUILD_CONCURRENCY = 8;
const BUILD_SHARDS = 1000;

/**
 * Appends `events` events in batches of 1000 over 1000 shards (default options: durable group commit,
 * background sealing to Arrow and Parquet), seals the rest, and closes the store.
 */
export async function buildBigStore(events: number): Promise<BigStore> {
  const base = makeTemp('big');
  const dir = join(base, 'store');
  const start = performance.now();
  const store = await EmbeddedStore.open(dir);
  try {
    const batches = Math.ceil(events / BUILD_BATCH);
    let next = 0;
    let reported = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const b = next++;
        if (b >= batches) return;
        const size = Math.min(BUILD_BATCH, events - b * BUILD_BATCH);
        await store.append(STREAM, `acct-${b % BUILD_SHARDS}`, makeBatch(b * BUILD_BATCH, size, b % BUILD_SHARDS));
        if (b - reported >= batches / 10) {
          reported = b;
          info(`build: ${fmt(b * BUILD_BATCH)} events appended after ${fmt((performance.now() - start) / 1000)} s`);
        }
      }
    };
    await Promise.all(Array.from({ length: BUILD_CONCURRENCY }, worker));
    const appended = performance.now();
    await store.seal();
    const sealed = performance.now();
    await store.close();
    const buildMs = performance.now() - start;
    info(
      `build: ${fmt(events)} events: appends acknowledged after ${fmt((appended - start) / 1000)} s, ` +
        `seal() waited ${fmt((sealed - appended) / 1000)} s more (background sealing that had not kept up + the last segment), ` +
        `total ${fmt(buildMs / 1000)} s; WAL ${fmt(bytesUnder(join(dir, 'wal')) / 2 ** 20)} MiB, ` +
        `Arrow ${fmt(bytesUnder(join(dir, 'columns')) / 2 ** 20)} MiB, Parquet ${fmt(bytesUnder(join(dir, 'parquet')) / 2 ** 20)} MiB`,
    );
    return { dir, events, buildMs };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** The loop every scan runs: the JIT cannot drop it because the sum is checked. */
function sumBatch(keyIndex: Int32Array, time: Float64Array, amount: Float64Array, n: number, s: number): number {
  for (let i = 0; i < n; i++) s += (keyIndex[i] as number) + (time[i] as number) + (amount[i] as number);
  return s;
}

async function scanStore(store: EmbeddedStore, into?: { keys: Int32Array; time: Float64Array; amount: Float64Array }): Promise<{ n: number; sum: number }> {
  let n = 0;
  let sum = 0;
  for await (const batch of store.scanColumns(STREAM, { fields: ['amount'] }) as AsyncIterable<ColumnBatch>) {
    const amount = batch.fields.amount as Float64Array;
    sum = sumBatch(batch.keyIndex, batch.time, amount, batch.length, sum);
    if (into !== undefined) {
      into.keys.set(batch.keyIndex.subarray(0, batch.length), n);
      into.time.set(batch.time.subarray(0, batch.length), n);
      into.amount.set(amount.subarray(0, batch.length), n);
    }
    n += batch.length;
  }
  return { n, sum };
}

/** Raw file layout: `keys int32[n]`, padding to 8 bytes, `time float64[n]`, `amount float64[n]`. */
function rawLayout(n: number): { timeOffset: number; amountOffset: number; bytes: number } {
  const timeOffset = Math.ceil((n * 4) / 8) * 8;
  return { timeOffset, amountOffset: timeOffset + n * 8, bytes: timeOffset + n * 16 };
}

/** Reads the raw file into `buf` (allocated once, as the store's scan reuses its buffer: a fresh one costs more than the read) and sums it. */
async function scanRaw(path: string, n: number, buf: Uint8Array): Promise<number> {
  const layout = rawLayout(n);
  await readInto(path, buf, layout.bytes);
  const keys = new Int32Array(buf.buffer, buf.byteOffset, n);
  const time = new Float64Array(buf.buffer, buf.byteOffset + layout.timeOffset, n);
  const amount = new Float64Array(buf.buffer, buf.byteOffset + layout.amountOffset, n);
  return sumBatch(keys, time, amount, n, 0);
}

export async function scanBench(big: BigStore, sizes: BigStoreSizes, results: (r: BenchResult) => void): Promise<void> {
  const store = await EmbeddedStore.open(big.dir);
  const rawPath = join(big.dir, '..', 'raw-columns.bin');
  try {
    // Untimed first pass: warms the page cache and the JIT, and copies the very columns the scan
    // returns into the raw baseline file.
    const layout = rawLayout(big.events);
    const raw = new Uint8Array(layout.bytes);
    const copy = {
      keys: new Int32Array(raw.buffer, 0, big.events),
      time: new Float64Array(raw.buffer, layout.timeOffset, big.events),
      amount: new Float64Array(raw.buffer, layout.amountOffset, big.events),
    };
    const first = await scanStore(store, copy);
    if (first.n !== big.events) throw new Error(`scan returned ${first.n} events, expected ${big.events}`);
    await writeFile(rawPath, raw);
    await scanRaw(rawPath, big.events, raw); // warm
    const storeRates: number[] = [];
    const rawRates: number[] = [];
    for (let rep = 0; rep < sizes.scanReps; rep++) {
      await tick();
      let start = performance.now();
      const got = await scanStore(store);
      const ms = performance.now() - start;
      await tick();
      start = performance.now();
      const rawSum = await scanRaw(rawPath, big.events, raw);
      const rawMs = performance.now() - start;
      if (got.n !== big.events || got.sum !== first.sum || rawSum !== first.sum) {
        throw new Error(`scan mismatch: ${got.n} events, sums ${got.sum} / ${rawSum} / ${first.sum}`);
      }
      storeRates.push((got.n / ms) * 1000);
      rawRates.push((got.n / rawMs) * 1000);
      info(`scan rep ${rep + 1}: store ${fmt(ms)} ms = ${fmt((got.n / ms) * 1000)} events/s; raw read+sum ${fmt(rawMs)} ms = ${fmt((got.n / rawMs) * 1000)} events/s`);
    }
    info(
      `scan: store reads ${fmt(bytesUnder(join(big.dir, 'columns')) / big.events)} B/event of Arrow (every column, checksummed); ` +
        `raw file holds ${fmt(layout.bytes / big.events)} B/event`,
    );
    results({ bench: 'embedded.scan.10m', value: median(storeRates), unit: 'events/s', baseline: median(rawRates) });
  } finally {
    await store.close();
  }
}

export async function openBench(big: BigStore, sizes: BigStoreSizes, results: (r: BenchResult) => void): Promise<void> {
  const walDir = join(big.dir, 'wal');
  const segments = bytesIn(walDir, /\.log$/);
  const openMs: number[] = [];
  const rawMs: number[] = [];
  for (let rep = 0; rep < sizes.openReps; rep++) {
    await tick();
    let start = performance.now();
    const store = await EmbeddedStore.open(big.dir);
    const ms = performance.now() - start;
    const stats = await store.stats();
    await store.close();
    if (stats.events !== big.events) throw new Error(`reopened store has ${stats.events} events, expected ${big.events}`);
    await tick();
    // Baseline: reading the bytes open has to read (every WAL segment, one readFile each).
    start = performance.now();
    let total = 0;
    for (const name of await readdir(walDir)) {
      total += (await readFile(join(walDir, name))).byteLength;
    }
    const readMs = performance.now() - start;
    if (total !== segments) throw new Error(`read ${total} WAL bytes, expected ${segments}`);
    openMs.push(ms);
    rawMs.push(readMs);
    info(`open rep ${rep + 1}: open ${fmt(ms)} ms; readFile of the ${fmt(total / 2 ** 20)} MiB WAL ${fmt(readMs)} ms`);
  }
  results({ bench: 'embedded.open.10m', value: median(openMs), unit: 'ms', baseline: median(rawMs) });
}
