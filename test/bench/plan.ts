/**
 * The replay planner on a 100M-event history (10M with --quick).
 *
 * The history is written straight to Parquet by DuckDB in the embedded store's sealed-segment format
 * (`key, seq, position, time, type, bytes, data, meta`; 5M rows per file), because building a real
 * 100M-event embedded store takes minutes and its WAL open alone is ~12 s (see embedded.open.10m):
 * planning reads only the sealed files' statistics, which is what is measured. Half the events are
 * inputs of `tally` over 100,000 keys with log-uniform (Zipf-like) popularity spread over 30 days,
 * half its outputs (with `meta.v`/`meta.m`). Each key has snapshots at 10 points in time (1M snapshot
 * records, held by an in-memory store).
 *
 * - analyzer.stats.build.100m (ms): building the catalogue from nothing (DuckDB over every file).
 *   Baseline: one DuckDB GROUP BY key over all files (count, sum of bytes): the least a plan without a
 *   catalogue would have to read.
 * - analyzer.plan.100m (ms; target ≤ 3,000): `planReplay` with the catalogue up to date (a change since
 *   day 27, 8 workers, fixed cost model: calibration is a fixed ~0.1 s sample and not part of the
 *   scaling). Baseline: the same GROUP BY as above.
 * - analyzer.stats.update.1m (ms): bringing the catalogue up to date after 1M more events were
 *   sealed. Baseline: the build, per event (ms for 1M events at the build's rate).
 */
import { existsSync, rmSync } from 'node:fs';
import { MemoryStore } from '../../src/index.ts';
import { StatsCatalogue, type HistorySource } from '../../analyzer/catalogue/catalogue.ts';
import { Duck, sqlString } from '../../analyzer/duckdb.ts';
import { planReplay } from '../../analyzer/plan.ts';
import type { SealedHistoryFile } from '../../src/store/event-store.ts';
import { historyApp } from '../analyzer/fixtures.ts';
import { info, makeTemp, type BenchResult } from './util.ts';

const KEYS = 100_000;
const DAYS = 30;
const START = 1_700_000_000_000;
const SPAN = DAYS * 86_400_000;
const PER_FILE = 5_000_000;

export async function planBench(totalEvents: number, results: (r: BenchResult) => void): Promise<void> {
  const dir = process.env.SPIVE_PLAN_BENCH_DIR ?? makeTemp('plan');
  const perStream = Math.round(totalEvents / 2);
  const duck = await Duck.open(':memory:');
  const files: SealedHistoryFile[] = [];
  const write = async (stream: 'inputs' | 'tallies', from: number, to: number): Promise<void> => {
    const path = `${dir}/parquet/stream=${stream}/${String(files.length + 1).padStart(10, '0')}.parquet`;
    // SPIVE_PLAN_BENCH_REUSE=1 with SPIVE_PLAN_BENCH_DIR keeps the generated history between runs (for profiling).
    if (process.env.SPIVE_PLAN_BENCH_REUSE !== undefined && existsSync(path)) {
      files.push({ stream, path, rows: to - from, firstPosition: from * 2 + 1, lastPosition: (to - 1) * 2 + 2, minTime: START, maxTime: START + SPAN });
      return;
    }
    const { mkdirSync } = await import('node:fs');
    mkdirSync(`${dir}/parquet/stream=${stream}`, { recursive: true });
    // i: the event's index within its stream; inputs and outputs interleave in global position.
    const position = stream === 'inputs' ? 'i * 2 + 1' : 'i * 2 + 2';
    const data =
      stream === 'inputs'
        ? `'{"key":"k' || k || '","amount":' || (i % 97) || ',"region":"r' || (k % 4) || '"}'`
        : `'{"key":"k' || k || '","total":' || i || ',"region":"r' || (k % 4) || '"}'`;
    const meta = stream === 'inputs' ? 'NULL' : `'{"v":"v1","m":' || (i + 1) || ',"in":[0,' || (i * 2 + 1) || ']}'`;
    await duck.run(`
      COPY (
        SELECT 'k' || k AS key, (i + 1)::BIGINT AS seq, (${position})::BIGINT AS position,
               (${START} + i * ${SPAN} // ${perStream})::BIGINT AS time,
               ${stream === 'inputs' ? "'Counted'" : "'Tallied'"} AS type, length(d)::INTEGER AS bytes, d AS data, ${meta} AS meta
        FROM (SELECT i, k, ${data} AS d FROM (SELECT range AS i, floor(exp(hash(range) / 18446744073709551615.0 * ln(${KEYS})))::BIGINT - 1 AS k FROM range(${from}, ${to})))
      ) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`);
    files.push({ stream, path, rows: to - from, firstPosition: from * 2 + 1, lastPosition: (to - 1) * 2 + 2, minTime: START, maxTime: START + SPAN });
  };
  const t0 = performance.now();
  for (let from = 0; from < perStream; from += PER_FILE) {
    const to = Math.min(perStream, from + PER_FILE);
    await write('inputs', from, to);
    await write('tallies', from, to);
  }
  if (process.env.SPIVE_PLAN_BENCH_REUSE !== undefined) rmSync(`${dir}/analyzer`, { recursive: true, force: true });
  info(`plan: wrote ${totalEvents.toLocaleString('en-US')} events as ${files.length} Parquet files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const all = `[${files.map((f) => sqlString(f.path)).join(', ')}]`;
  const baselineStart = performance.now();
  await duck.rows(`SELECT key, count(*) AS n, sum(bytes) AS b FROM read_parquet(${all}) GROUP BY key`);
  const baselineMs = performance.now() - baselineStart;
  duck.close();

  let sealed = [...files];
  const source: HistorySource = {
    location: `file:${dir}`,
    sealedFiles: () => sealed,
    streamTotals: async () => {
      const totals = new Map<string, { events: number; lastPosition: number }>();
      for (const f of sealed) {
        const t = totals.get(f.stream) ?? { events: 0, lastPosition: 0 };
        totals.set(f.stream, { events: t.events + f.rows, lastPosition: Math.max(t.lastPosition, f.lastPosition) });
      }
      return totals;
    },
    readStream: async function* () {},
  };
  const catalogue = await StatsCatalogue.open(`${dir}/analyzer/stats.duckdb`);
  const buildStart = performance.now();
  const built = await catalogue.update(source);
  info(`plan: catalogue build steps ${JSON.stringify(built.timings)}`);
  const buildMs = performance.now() - buildStart;
  results({ bench: `analyzer.stats.build.100m`, value: buildMs, unit: 'ms', baseline: baselineMs });

  // Snapshots: every key at 10 points in time, by the version that wrote the outputs.
  const store = new MemoryStore();
  const keys = await catalogue.db.rows<{ key: string; n: number }>(`SELECT key, sum(events) AS n FROM buckets WHERE stream = 'inputs' GROUP BY key`);
  const state = new TextEncoder().encode(JSON.stringify({ state: { total: 12345, pad: '' } }));
  for (const { key } of keys) {
    for (let s = 1; s <= 10; s++) {
      await store.putSnapshot({ process: 'tally', version: 'v1', shard: key, position: Math.floor((perStream * s) / 11), time: START + Math.floor((SPAN * s) / 11), data: state });
    }
  }
  const { app } = historyApp({ version: 'v2', snapshotEvery: 1000 });
  const single = { ...app, processes: app.processes.filter((p) => p.name === 'tally') };
  const fixed = { process: 'tally', nsPerEvent: 1500, nsPerByte: 8, nsPerSnapshotByte: 8, nsPerSnapshot: 50_000, nsPerShard: 20_000, source: 'default' as const, samples: 0 };
  const planStart = performance.now();
  const plan = await planReplay({
    store,
    catalogue,
    app: single,
    appFile: 'bench',
    appVersion: 'v2',
    process: 'tally',
    since: START + 27 * 86_400_000,
    workers: 8,
    costs: new Map([['tally', fixed]]),
  });
  const planMs = performance.now() - planStart;
  info(`plan: phases ${JSON.stringify(plan.timings)}`);
  info(`plan: chose ${plan.chosen} for ${plan.tasks.length.toLocaleString('en-US')} shards; ${plan.strategies.map((s) => `${s.name} ${Math.round(s.estimatedWallMs)} ms`).join(', ')}`);
  results({ bench: `analyzer.plan.100m`, value: planMs, unit: 'ms', baseline: baselineMs });

  // Incremental: 1M more events (half inputs, half outputs) sealed, then one update.
  const extra = Math.round(totalEvents / 100);
  const duck2 = await Duck.open(':memory:');
  const before = files.length;
  const writeMore = async (stream: 'inputs' | 'tallies') => {
    const path = `${dir}/parquet/stream=${stream}/${String(files.length + 1).padStart(10, '0')}.parquet`;
    await duck2.run(
      `COPY (SELECT 'k' || (range % ${KEYS}) AS key, range::BIGINT AS seq, (${totalEvents * 3} + range)::BIGINT AS position, (${START + SPAN} + range)::BIGINT AS time, 'X' AS type, 10 AS bytes, '{"a":1}' AS data, ${stream === 'inputs' ? 'NULL' : `'{"v":"v1","m":' || range || '}'`} AS meta FROM range(${extra / 2})) TO ${sqlString(path)} (FORMAT parquet)`,
    );
    files.push({ stream, path, rows: extra / 2, firstPosition: totalEvents * 3, lastPosition: totalEvents * 3 + extra / 2, minTime: START + SPAN, maxTime: START + SPAN + extra });
  };
  await writeMore('inputs');
  await writeMore('tallies');
  duck2.close();
  sealed = [...files];
  const updateStart = performance.now();
  const report = await catalogue.update(source);
  const updateMs = performance.now() - updateStart;
  info(`plan: update read ${report.filesAdded} new files (${files.length - before} written); steps ${JSON.stringify(report.timings)}`);
  results({ bench: `analyzer.stats.update.1m`, value: updateMs, unit: 'ms', baseline: (buildMs * extra) / totalEvents });
  catalogue.close();
}
