/**
 * Durable append benchmarks of the embedded store: batched throughput under group commit, and the
 * latency of single-event appends. Each is paired with the raw cost of the same bytes through the same
 * node:fs/promises calls the store uses (FileHandle.write + FileHandle.datasync).
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { EmbeddedStore, nodeFileSystem, type FileHandle, type FileSystem, type NewEvent } from '../../src/index.ts';
import { bytesIn, fmt, info, makeBatch, makeEvent, makeTemp, median, percentile, removeTemp, STREAM, tick, type BenchResult } from './util.ts';

/** The real file system, counting the bytes written to and the syncs of WAL segments. */
function countingFileSystem(): { fs: FileSystem; counts: { walWrites: number; walBytes: number; walSyncs: number } } {
  const counts = { walWrites: 0, walBytes: 0, walSyncs: 0 };
  const wrap = (handle: FileHandle): FileHandle => ({
    async write(data, position) {
      counts.walWrites++;
      counts.walBytes += data.byteLength;
      return handle.write(data, position);
    },
    read: (position, length) => handle.read(position, length),
    async sync() {
      counts.walSyncs++;
      return handle.sync();
    },
    truncate: (length) => handle.truncate(length),
    size: () => handle.size(),
    close: () => handle.close(),
  });
  const fs: FileSystem = {
    ...nodeFileSystem,
    async open(path, options) {
      const handle = await nodeFileSystem.open(path, options);
      return /\/wal\/\d{10}\.log$/.test(path) ? wrap(handle) : handle;
    },
  };
  return { fs, counts };
}

/** Options that make a wrapped file system behave exactly like the default (real) one. */
const REAL_DEFAULTS = { parquet: true, lock: true } as const;

/**
 * Raw floor for the batched run: `totalBytes` written sequentially to one file in `groups` writes,
 * each followed by fdatasync, so the same bytes with the same number of syncs as the store made.
 */
async function rawGroupedWrites(dir: string, totalBytes: number, groups: number): Promise<number> {
  const groupBytes = Math.ceil(totalBytes / groups);
  const buffer = Buffer.alloc(groupBytes);
  for (let i = 0; i < groupBytes; i++) buffer[i] = (i * 31 + 7) & 0xff;
  const file = await open(join(dir, 'raw.log'), 'w+');
  try {
    const start = performance.now();
    let position = 0;
    while (position < totalBytes) {
      const n = Math.min(groupBytes, totalBytes - position);
      let done = 0;
      while (done < n) done += (await file.write(buffer, done, n - done, position + done)).bytesWritten;
      await file.datasync();
      position += n;
    }
    return performance.now() - start;
  } finally {
    await file.close();
  }
}

export interface AppendSizes {
  /** Events per repetition of the batched run. */
  readonly batchedEvents: number;
  readonly batchedReps: number;
  /** Timed single-event appends. */
  readonly singleAppends: number;
}

const BATCH = 100;
const CONCURRENCY = 64;
const SHARDS = 4096;

export async function appendBatched(sizes: AppendSizes, results: (r: BenchResult) => void): Promise<void> {
  // A pool of distinct batches made before timing: the figure is the store's cost, not the generator's.
  const pool: NewEvent[][] = [];
  for (let b = 0; b < 1024; b++) pool.push(makeBatch(b * BATCH, BATCH, b));
  const rates: number[] = [];
  const rawRates: number[] = [];
  for (let rep = 0; rep < sizes.batchedReps; rep++) {
    const dir = makeTemp('append');
    try {
      const { fs, counts } = countingFileSystem();
      const store = await EmbeddedStore.open(join(dir, 'store'), { ...REAL_DEFAULTS, fs });
      const batches = Math.ceil(sizes.batchedEvents / BATCH);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (;;) {
          const b = next++;
          if (b >= batches) return;
          await store.append(STREAM, `acct-${(b * 7919) % SHARDS}`, pool[b % pool.length] as NewEvent[]);
        }
      };
      const start = performance.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const ms = performance.now() - start;
      const events = batches * BATCH;
      const closeStart = performance.now();
      await store.close(); // waits for background sealing of the segments that filled up
      const closeMs = performance.now() - closeStart;
      const walBytes = bytesIn(join(dir, 'store', 'wal'));
      const rawMs = await rawGroupedWrites(dir, counts.walBytes, counts.walSyncs);
      rates.push((events / ms) * 1000);
      rawRates.push((events / rawMs) * 1000);
      info(
        `append.batched rep ${rep + 1}: ${fmt(events)} events in ${fmt(ms)} ms = ${fmt((events / ms) * 1000)} events/s; ` +
          `${counts.walSyncs} fsyncs, ${fmt(counts.walBytes / counts.walSyncs / 1024)} KiB and ${fmt(events / counts.walSyncs)} events per group, ` +
          `WAL ${fmt(walBytes / events)} B/event; close (drains background sealing) ${fmt(closeMs)} ms; ` +
          `raw same bytes and fsyncs ${fmt(rawMs)} ms = ${fmt((events / rawMs) * 1000)} events/s`,
      );
    } finally {
      removeTemp(dir);
    }
    await tick();
  }
  results({ bench: 'embedded.append.batched', value: median(rates), unit: 'events/s', baseline: median(rawRates) });
}

export async function appendSingle(sizes: AppendSizes, results: (r: BenchResult) => void): Promise<void> {
  const dir = makeTemp('single');
  try {
    const { fs, counts } = countingFileSystem();
    const store = await EmbeddedStore.open(join(dir, 'store'), { ...REAL_DEFAULTS, fs });
    const raw = await open(join(dir, 'raw.log'), 'w+');
    try {
      // The raw record is as large as the store's average WAL frame for one event (measured in warm-up).
      let n = 0;
      const appendOne = async (): Promise<number> => {
        const event = [makeEvent(n, n % SHARDS)];
        const key = `acct-${n % SHARDS}`;
        n++;
        const start = performance.now();
        await store.append(STREAM, key, event);
        return performance.now() - start;
      };
      const warmup = Math.max(20, Math.floor(sizes.singleAppends / 10));
      for (let i = 0; i < warmup; i++) await appendOne();
      const recordBytes = Math.round(counts.walBytes / counts.walWrites);
      const record = Buffer.alloc(recordBytes, 0x5a);
      let rawPosition = 0;
      const rawOne = async (): Promise<number> => {
        const start = performance.now();
        await raw.write(record, 0, recordBytes, rawPosition);
        await raw.datasync();
        rawPosition += recordBytes;
        return performance.now() - start;
      };
      for (let i = 0; i < warmup; i++) await rawOne();
      // Interleaved blocks, so that both see the same disk conditions.
      const storeMs: number[] = [];
      const rawMs: number[] = [];
      const block = 50;
      while (storeMs.length < sizes.singleAppends) {
        for (let i = 0; i < block; i++) storeMs.push(await appendOne());
        for (let i = 0; i < block; i++) rawMs.push(await rawOne());
      }
      info(
        `append.single: ${storeMs.length} appends of 1 event (WAL frame ${recordBytes} B): ` +
          `p50 ${percentile(storeMs, 50).toFixed(3)} ms, p99 ${percentile(storeMs, 99).toFixed(3)} ms, max ${Math.max(...storeMs).toFixed(3)} ms; ` +
          `raw write+fdatasync p50 ${percentile(rawMs, 50).toFixed(3)} ms, p99 ${percentile(rawMs, 99).toFixed(3)} ms`,
      );
      results({ bench: 'embedded.append.single.p50', value: percentile(storeMs, 50), unit: 'ms', baseline: percentile(rawMs, 50) });
      results({ bench: 'embedded.append.single.p99', value: percentile(storeMs, 99), unit: 'ms', baseline: percentile(rawMs, 99) });
    } finally {
      await raw.close();
      await store.close();
    }
  } finally {
    removeTemp(dir);
  }
}
