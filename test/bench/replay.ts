/**
 * replay.fold.10m.warm / replay.fold.10m.cold (events/s; higher is better): the replay engine's
 * columnar fold (src/replay/columnar-fold.ts) over the 10M-event store of scan.ts — a real process
 * (`reads: ['amount']`) whose handler reads the key, the time and `amount` (a running sum and the
 * last time per account, 1000 accounts), through the engine's reused event view and context.
 * Warm: the history is in the page cache (an untimed first pass). Cold: before every run the store's
 * column files (and the baseline's file) are dropped from the page cache (`dd iflag=nocache
 * count=0` per file). Median of 5 each.
 *
 * Baseline: the same three columns (int32 key, float64 time, float64 amount) in one raw binary file,
 * read with one readFile and folded by a plain loop into typed arrays (sum and last time per key):
 * the physical limit of this fold. Both results are checked equal, account by account.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineProcess, defineStream, EmbeddedStore, type ProcessDef } from '../../src/index.ts';
import { foldColumns, type FoldStart } from '../../src/replay/columnar-fold.ts';
import type { BigStore } from './scan.ts';
import { fmt, info, median, STREAM, tick, type BenchResult } from './util.ts';

const ACCOUNTS = 1000; // scan.ts builds acct-0 … acct-999
const REPS = 5;

interface Totals {
  sum: number;
  last: number;
}

const transfers = defineStream<{ Deposited: { amount: number; currency: string; account: string; memo: string } }>(STREAM);
const out = defineStream<{ Never: null }>('totals');
const totals = defineProcess({
  name: 'totals',
  version: 'bench',
  inputs: { transfers },
  output: out,
  reads: ['amount'],
  initial: (): Totals => ({ sum: 0, last: 0 }),
  on: {
    transfers: {
      Deposited(s, e, ctx) {
        if (e.key !== ctx.key) throw new Error('event of another shard');
        s.sum += e.data.amount;
        s.last = e.time;
        return s;
      },
    },
  },
}) as unknown as ProcessDef<unknown>;

async function fold(store: EmbeddedStore, events: number): Promise<Map<string, Totals>> {
  const shards = new Map<string, FoldStart>();
  for (let a = 0; a < ACCOUNTS; a++) shards.set(`acct-${a}`, { state: totals.initial(`acct-${a}`), afterM: 0 });
  const r = await foldColumns({ process: totals, version: 'bench', batches: store.scanColumns(STREAM, { fields: ['amount'] }), m: null, limit: events, shards });
  if (r.scanned !== events || r.fallback.size > 0) throw new Error(`fold scanned ${r.scanned} of ${events} events, ${r.fallback.size} shards fell back`);
  return new Map([...r.shards].map(([k, s]) => [k, s.state as Totals]));
}

/** Raw file layout: `keys int32[n]` (account numbers), padding to 8 bytes, `time float64[n]`, `amount float64[n]`. */
function rawLayout(n: number) {
  const timeOffset = Math.ceil((n * 4) / 8) * 8;
  return { timeOffset, amountOffset: timeOffset + n * 8, bytes: timeOffset + n * 16 };
}

function rawLoop(keys: Int32Array, time: Float64Array, amount: Float64Array, sum: Float64Array, last: Float64Array): void {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as number;
    sum[k] = (sum[k] as number) + (amount[i] as number);
    last[k] = time[i] as number;
  }
}

async function foldRaw(path: string, n: number): Promise<{ sum: Float64Array; last: Float64Array }> {
  const bytes = await readFile(path);
  const layout = rawLayout(n);
  const buf = bytes.byteOffset % 8 === 0 ? bytes : Buffer.from(bytes);
  const sum = new Float64Array(ACCOUNTS);
  const last = new Float64Array(ACCOUNTS);
  rawLoop(new Int32Array(buf.buffer, buf.byteOffset, n), new Float64Array(buf.buffer, buf.byteOffset + layout.timeOffset, n), new Float64Array(buf.buffer, buf.byteOffset + layout.amountOffset, n), sum, last);
  return { sum, last };
}

/** Writes the baseline file from the store's own columns (an untimed pass that also warms the cache). */
async function writeRaw(store: EmbeddedStore, path: string, n: number): Promise<void> {
  const layout = rawLayout(n);
  const raw = new Uint8Array(layout.bytes);
  const keys = new Int32Array(raw.buffer, 0, n);
  const time = new Float64Array(raw.buffer, layout.timeOffset, n);
  const amount = new Float64Array(raw.buffer, layout.amountOffset, n);
  let at = 0;
  for await (const b of store.scanColumns(STREAM, { fields: ['amount'] })) {
    const account = b.keys.map((k) => Number(k.slice('acct-'.length)));
    for (let i = 0; i < b.length; i++) keys[at + i] = account[b.keyIndex[i] as number] as number;
    time.set(b.time.subarray(0, b.length), at);
    amount.set((b.fields.amount as Float64Array).subarray(0, b.length), at);
    at += b.length;
  }
  if (at !== n) throw new Error(`scan gave ${at} events, expected ${n}`);
  await writeFile(path, raw);
}

function same(folded: Map<string, Totals>, raw: { sum: Float64Array; last: Float64Array }): void {
  for (let a = 0; a < ACCOUNTS; a++) {
    const s = folded.get(`acct-${a}`);
    if (s === undefined || s.sum !== raw.sum[a] || s.last !== raw.last[a]) throw new Error(`fold and raw differ for acct-${a}: ${JSON.stringify(s)} vs ${raw.sum[a]}, ${raw.last[a]}`);
  }
}

/** Drops files from the page cache (clean pages only; no root needed). */
function dropFromCache(files: readonly string[]): void {
  for (const f of files) execFileSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
}

function cachedPages(file: string): string {
  try {
    return execFileSync('fincore', ['--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

export async function replayBench(big: BigStore, results: (r: BenchResult) => void): Promise<void> {
  const store = await EmbeddedStore.open(big.dir);
  const rawPath = join(big.dir, '..', 'raw-fold-columns.bin');
  const arrowFiles = execFileSync('find', [join(big.dir, 'columns'), '-name', '*.arrow'], { encoding: 'utf8' }).split('\n').filter((l) => l !== '');
  try {
    await writeRaw(store, rawPath, big.events);
    same(await fold(store, big.events), await foldRaw(rawPath, big.events)); // warm-up and check
    for (const cold of [false, true]) {
      const rates: number[] = [];
      const rawRates: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        if (cold) dropFromCache([...arrowFiles, rawPath]);
        if (cold && rep === 0) info(`cold: after dropping, ${arrowFiles[0]} has ${cachedPages(arrowFiles[0] as string)} cached`);
        await tick();
        let start = performance.now();
        const folded = await fold(store, big.events);
        const ms = performance.now() - start;
        await tick();
        start = performance.now();
        const raw = await foldRaw(rawPath, big.events);
        const rawMs = performance.now() - start;
        same(folded, raw);
        rates.push((big.events / ms) * 1000);
        rawRates.push((big.events / rawMs) * 1000);
        info(`fold ${cold ? 'cold' : 'warm'} rep ${rep + 1}: ${fmt(ms)} ms = ${fmt((big.events / ms) * 1000)} events/s; raw ${fmt(rawMs)} ms = ${fmt((big.events / rawMs) * 1000)} events/s`);
      }
      results({ bench: `replay.fold.10m.${cold ? 'cold' : 'warm'}`, value: median(rates), unit: 'events/s', baseline: median(rawRates) });
    }
  } finally {
    await store.close();
  }
}
