/**
 * dataset.generate.bank (store events/s; higher is better): `spive dataset generate bank` end to end —
 * Zipf/daily-cycle inputs, the bank's real ledger and balances handlers folded offline, every output
 * and snapshot bulk-loaded into a new embedded store by a bulk writer on a thread of its own (frames,
 * columns, checksums, writes and sealing to Arrow and Parquet, while the main thread folds) — counted
 * in events written to the store (inputs + outputs) per second. The detail line adds the process's CPU
 * time and the folding (main) thread's: on a shared 2-core machine the wall time follows whatever else
 * runs, the CPU time much less, and the folding thread is the critical path. Snapshot rounds every
 * 10,000 inputs (the default cadence of 1,000 makes snapshots, not events, dominate the bytes; see
 * docs/datasets.md).
 * Baseline: the same number of events appended to a fresh embedded store the ordinary way (batches of
 * 100 from 64 concurrent appenders, group commit, sealing included by waiting for close): what
 * building that store through the store's API costs, with no handlers and no snapshots at all.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedStore, type NewEvent } from '../../src/index.ts';
import { bankExample } from '../../analyzer/dataset/examples/bank.ts';
import { DEFAULT_START_MS, generateDataset } from '../../analyzer/dataset/generate.ts';
import { fmt, info, makeBatch, makeTemp, removeTemp, STREAM, type BenchResult } from './util.ts';

export async function datasetBench(inputs: number, results: (r: BenchResult) => void): Promise<void> {
  const dir = makeTemp('dataset');
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const mainCpu = mainThreadCpuMs();
    const generated = await generateDataset({ example: bankExample, out: join(dir, 'bank'), events: inputs, keys: 10_000, skew: 0.99, seed: 1, days: 30, startMs: DEFAULT_START_MS, snapshotEvery: 10_000 });
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const mainUsed = mainCpu === undefined ? undefined : (mainThreadCpuMs() as number) - mainCpu;
    const rate = (generated.storeEvents / ms) * 1000;
    info(
      `dataset.generate.bank: ${fmt(inputs)} inputs → ${fmt(generated.storeEvents)} events, ${fmt(generated.snapshots)} snapshots in ${fmt(ms)} ms = ${fmt(rate)} events/s (${fmt((inputs / ms) * 1000)} inputs/s; ${fmt((used.user + used.system) / 1000)} ms CPU, all threads${mainUsed === undefined ? '' : `; the folding thread ${fmt(mainUsed)} ms = ${fmt((mainUsed * 1000) / inputs)} µs per input`})`,
    );

    const store = await EmbeddedStore.open(join(dir, 'baseline'));
    const pool: NewEvent[][] = [];
    for (let b = 0; b < 256; b++) pool.push(makeBatch(b * 100, 100, b));
    const batches = Math.ceil(generated.storeEvents / 100);
    let next = 0;
    const baseStarted = performance.now();
    const worker = async (): Promise<void> => {
      for (let b = next++; b < batches; b = next++) await store.append(STREAM, `acct-${(b * 7919) % 4096}`, pool[b % pool.length] as NewEvent[]);
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    await store.seal();
    await store.close();
    const baseMs = performance.now() - baseStarted;
    const baseRate = ((batches * 100) / baseMs) * 1000;
    info(`dataset.generate.bank baseline: ${fmt(batches * 100)} events appended and sealed in ${fmt(baseMs)} ms = ${fmt(baseRate)} events/s`);
    results({ bench: 'dataset.generate.bank', value: rate, unit: 'events/s', baseline: baseRate });
  } finally {
    removeTemp(dir);
  }
}

/**
 * CPU time of this (the folding) thread in ms, from Linux's per-thread accounting (10 ms ticks); undefined
 * elsewhere. process.cpuUsage counts every thread, and on a shared machine the wall time counts other
 * work too: this is the figure the fold's own changes move.
 */
function mainThreadCpuMs(): number | undefined {
  try {
    const fields = (readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1] as string).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}
