/**
 * `npm run bench [-- --only <name-prefix>] [-- --quick]`: Spive's benchmarks (DESIGN.md section 6).
 *
 * stdout carries only result lines, one JSON object each:
 *   {"bench": "<name>", "value": <number>, "unit": "<unit>", "baseline": <number>, "ratio": <number>}
 * `ratio` is always value / baseline; every baseline is measured in the same run, on the same disk.
 * Progress and detail go to stderr. Data lives in a temp folder (`SPIVE_BENCH_DIR`, default the OS
 * temp dir), is generated on demand, and is deleted at the end. `--quick` (or SPIVE_BENCH_QUICK=1)
 * shrinks every size about 10x for a smoke run; names stay the same.
 *
 * The figures (events are ~100 bytes: `{amount, currency, account, memo}`, one numeric field):
 *
 * - embedded.append.batched (events/s; higher is better). Durable append throughput of a fresh
 *   embedded store with default options: 64 concurrent appenders, each appending batches of 100
 *   events to one of 4096 shards and waiting for the acknowledgement (write + fdatasync, shared by
 *   group commit). Median of 3 runs of 1.5M events (each crosses 64 MiB segment rotations, so
 *   background sealing competes for the CPU; the wait for it on close is reported on stderr but
 *   not counted). Baseline: the same number of WAL bytes written raw to one file with
 *   FileHandle.write + datasync, in exactly as many groups as the store made fsyncs: the disk's cost
 *   of the store's own grouping, with no encoding, checksums or bookkeeping.
 *
 * - embedded.append.single.p50 / .p99 (ms; lower is better). One append of one event at a time, each
 *   awaited (so each pays its own fdatasync). Baseline: raw write + datasync of a record as large as
 *   the store's WAL frame for one event, measured in blocks interleaved with the store's.
 *
 * - embedded.scan.10m (events/s; higher is better). A store of 10M events is built with default
 *   options (batches of 1000 over 1000 shards, 8 in flight; sealing to Arrow and Parquet), sealed,
 *   closed and reopened; then `scanColumns(stream, {fields: ['amount']})` over it, summing keyIndex +
 *   time + amount of every event. Median of 5; the first pass is an untimed warm-up, so every run
 *   reads from the page cache. Baseline: the very same three columns (int32 key index, float64 time,
 *   float64 amount) in one raw binary file, read into a buffer allocated once (as the store reuses its
 *   scan buffer) and summed by the same loop: the physical limit of a scan from the page cache.
 *
 * - replay.fold.10m.warm, replay.fold.10m.cold (events/s; higher is better). See replay.ts: the
 *   replay engine's columnar fold of a real handler (key, time, one numeric field) over that store,
 *   from the page cache and with the store's files dropped from it, against a raw typed-array fold;
 *   and `.2-workers`, the warm fold shared out among 2 worker threads against the one-thread fold.
 *
 * - runtime.bank.ledger.live (events/s; higher is better). See bank-live.ts: input events through the
 *   bank's ledger process live on the embedded store, against its handlers alone in a loop.
 *
 * - sim.bank.platform-events, sim.compression.100-per-s, sim.compression.1000-per-s (and their
 *   `.faulty-run` variants). See sim.ts: the simulator's platform events per wall second and its time
 *   compression on the bank example under default faults, against the raw scheduler loop.
 *
 * - analyzer.stats.build.100m, analyzer.plan.100m, analyzer.stats.update.1m. See plan.ts: the
 *   replay planner's statistics catalogue and planning over a 100M-event history.
 *
 * - replay.matrix.*. See replay-matrix.ts: the planner's choice and estimates against real replays of
 *   every strategy on a matrix of generated stores.
 *
 * - dataset.generate.bank (events/s; higher is better). See dataset.ts: `spive dataset generate bank`
 *   end to end (inputs, the real handlers folded offline, bulk load, sealing), against appending the
 *   same number of events through the store's API.
 *
 * - postgres.append.batched, postgres.read.stream. See postgres.ts: the PostgreSQL store's append and
 *   read throughput against the raw client (plain INSERTs; COPY … TO STDOUT of the same rows).
 *
 * - nats.append.single, nats.append.batched, nats.read.stream.single, nats.read.stream.batch100,
 *   nats.read.stream.{single,batch100}.vs-transport. See nats.ts: the NATS JetStream store's append
 *   and read throughput against the raw client (plain publishes of the same bodies; a plain ordered
 *   consumer over the same messages that parses each message's data JSON, the least a reader of the
 *   events does; `.vs-transport`: against a consumer that decodes nothing). Skipped when no server
 *   answers on 127.0.0.1:4222.
 *
 * - inspect.open.10m, inspect.keystroke.10m.p50/.max, inspect.lanes.10m.p50/.max (ms; lower is
 *   better). See inspect.ts: the timeline inspector opening a 10M-row trace to its overview, and
 *   redrawing after a key (the whole screen; the lanes alone), against one plain DuckDB pass (a time
 *   histogram) over the same file.
 *
 * - embedded.open.10m (ms; lower is better). `EmbeddedStore.open` of that store (recovery reads and
 *   checks every WAL frame to rebuild the indexes). Median of 3. Baseline: readFile of every WAL
 *   segment, i.e. just reading the bytes open has to read.
 */
import { appendBatched, appendSingle, type AppendSizes } from './append.ts';
import { bankLive } from './bank-live.ts';
import { datasetBench } from './dataset.ts';
import { inspectBench } from './inspect.ts';
import { natsBench, NATS_BENCHES } from './nats.ts';
import { planBench } from './plan.ts';
import { postgresAppend, postgresRead } from './postgres.ts';
import { replayMatrix } from './replay-matrix.ts';
import { replayBench } from './replay.ts';
import { buildBigStore, openBench, scanBench, type BigStore, type BigStoreSizes } from './scan.ts';
import { simBank, simCompression1000, type SimSizes } from './sim.ts';
import { emit, fmt, info, removeAllTemps, removeTemp, type BenchResult } from './util.ts';
import { dirname } from 'node:path';

interface Suite {
  /** Result names the suite produces (a suite runs when any of them is selected). */
  readonly names: readonly string[];
  run(results: (r: BenchResult) => void): Promise<void>;
}

const USAGE = 'usage: npm run bench [-- [--only <name-prefix>]... [--quick]]';

function parseArgs(argv: readonly string[]): { only: string[]; quick: boolean } {
  const only: string[] = [];
  let quick = process.env.SPIVE_BENCH_QUICK === '1';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--quick') quick = true;
    else if (arg === '--only') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) fail('--only needs a benchmark name (or prefix)');
      only.push(value);
    } else if (arg.startsWith('--only=')) only.push(arg.slice('--only='.length));
    else if (arg === '--help' || arg === '-h') {
      process.stderr.write(`${USAGE}\n`);
      process.exit(0);
    } else fail(`unknown argument ${JSON.stringify(arg)}`);
  }
  return { only, quick };
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message} (${USAGE})\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { only, quick } = parseArgs(process.argv.slice(2));
  const size = (n: number): number => (quick ? Math.round(n / 10) : n);
  const appendSizes: AppendSizes = { batchedEvents: size(1_500_000), batchedReps: 3, singleAppends: size(2000) };
  const bigSizes: BigStoreSizes = { events: size(10_000_000), scanReps: 5, openReps: 3 };
  const simSizes: SimSizes = { seeds: quick ? 3 : 7, inputSeconds: quick ? 1 : 10, warmUpEvents: quick ? 30_000 : 300_000 };

  let big: BigStore | undefined;
  const bigStore = async (): Promise<BigStore> => (big ??= await buildBigStore(bigSizes.events));

  const suites: Suite[] = [
    { names: ['embedded.append.batched'], run: (r) => appendBatched(appendSizes, r) },
    { names: ['embedded.append.single.p50', 'embedded.append.single.p99'], run: (r) => appendSingle(appendSizes, r) },
    { names: ['embedded.scan.10m'], run: async (r) => scanBench(await bigStore(), bigSizes, r) },
    { names: ['embedded.open.10m'], run: async (r) => openBench(await bigStore(), bigSizes, r) },
    { names: ['replay.fold.10m.warm', 'replay.fold.10m.cold', 'replay.fold.10m.warm.2-workers'], run: async (r) => replayBench(await bigStore(), r) },
    { names: ['runtime.bank.ledger.live', 'runtime.bank.ledger.backlog'], run: (r) => bankLive({ events: size(200_000), accounts: 1000 }, r) },
    {
      names: ['sim.bank.platform-events', 'sim.bank.platform-events.faulty-run', 'sim.bank.platform-events.first-run', 'sim.compression.100-per-s', 'sim.compression.100-per-s.faulty-run'],
      run: (r) => simBank(simSizes, r),
    },
    { names: ['analyzer.stats.build.100m', 'analyzer.plan.100m', 'analyzer.stats.update.1m'], run: (r) => planBench(size(100_000_000), r) },
    { names: ['sim.compression.1000-per-s', 'sim.compression.1000-per-s.faulty-run'], run: (r) => simCompression1000(simSizes, r) },
    {
      names: ['replay.matrix.uniform.late-bug.fresh-snapshots.chosen', 'replay.matrix.skewed.mid-bug.chosen', 'replay.matrix.skewed.late-bug.rare-snapshots.chosen', 'replay.matrix.estimate-error.median'],
      run: (r) => replayMatrix(quick ? 0.25 : 1, r),
    },
    { names: ['dataset.generate.bank'], run: (r) => datasetBench(size(1_000_000), r) },
    { names: ['inspect.open.10m', 'inspect.keystroke.10m.p50', 'inspect.keystroke.10m.max', 'inspect.lanes.10m.p50', 'inspect.lanes.10m.max'], run: (r) => inspectBench(size(10_000_000), r) },
    { names: ['postgres.append.batched'], run: (r) => postgresAppend(size(200_000), r) },
    { names: ['postgres.read.stream'], run: (r) => postgresRead(size(500_000), r) },
    { names: [...NATS_BENCHES], run: (r) => natsBench({ singleEvents: size(20_000), batchedEvents: size(200_000) }, r) },
  ];
  const selected = (name: string): boolean => only.length === 0 || only.some((prefix) => name.startsWith(prefix));
  const chosen = suites.filter((s) => s.names.some(selected));
  if (chosen.length === 0) fail(`no benchmark matches ${only.map((o) => JSON.stringify(o)).join(', ')}; known: ${suites.flatMap((s) => s.names).join(', ')}`);
  if (quick) info('quick mode: sizes shrunk 10x (names unchanged)');

  const started = performance.now();
  try {
    for (const suite of chosen) {
      const t = performance.now();
      info(`running ${suite.names.filter(selected).join(', ')}`);
      await suite.run((r) => {
        if (selected(r.bench)) emit(r);
      });
      info(`done in ${fmt((performance.now() - t) / 1000)} s`);
    }
  } finally {
    if (big !== undefined) removeTemp(dirname(big.dir));
    removeAllTemps();
  }
  info(`all done in ${fmt((performance.now() - started) / 1000)} s`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    removeAllTemps();
    process.exit(130);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  removeAllTemps();
  process.exit(1);
});
