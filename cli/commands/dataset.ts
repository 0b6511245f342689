/**
 * `spive dataset generate <example> --out <dir>`: a ready embedded store for an example — realistic
 * input events (Zipf keys, a daily cycle, heavy-tailed sizes), the example's processes folded over
 * them with the outputs and snapshots the runtime would have written, sealed to Arrow and Parquet.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { DATASET_EXAMPLES, findExample } from '../../analyzer/dataset/examples/index.ts';
import { DEFAULT_START_MS, generateDataset } from '../../analyzer/dataset/generate.ts';
import { UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { integer, positiveInt, time } from '../options.ts';
import { makeOutput } from '../output.ts';

interface GenerateCliOptions {
  out: string;
  events: number;
  keys?: number;
  skew: number;
  seed: number;
  days: number;
  start: number;
  snapshotEvery?: number;
  seal: boolean;
  json?: boolean;
}

function nonNegativeNumber(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag} expects a number >= 0, got ${JSON.stringify(value)}`);
    return n;
  };
}

function nonNegativeInt(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError(`${flag} expects an integer >= 0, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

export function registerDataset(program: Command, context: CommandContext): void {
  const dataset = program.command('dataset').description('generate example datasets: ready stores with history, outputs and snapshots');
  dataset
    .command('generate')
    .description("make a ready embedded store for an example: realistic inputs, then the example's processes run over them (outputs, snapshots), sealed")
    .argument('<example>', `the example: ${DATASET_EXAMPLES.map((e) => e.name).join(' or ')}`)
    .requiredOption('--out <dir>', 'folder of the new embedded store (must not exist, or be empty); for PostgreSQL or JetStream, copy it there with spive store copy')
    .option('--events <n>', "input events to generate; the store holds more: the processes' outputs too (bank: ~3.6 store events per input)", positiveInt('--events'), 100_000)
    .option('--keys <k>', 'distinct keys of the Zipf law: accounts (bank) or players (game); default per example', positiveInt('--keys'))
    .option('--skew <s>', 'Zipf skew of key popularity (0 = uniform; YCSB default 0.99)', nonNegativeNumber('--skew'), 0.99)
    .option('--seed <n>', 'seed: the same options give the same store', integer('--seed'), 1)
    .option('--days <d>', 'simulated days the input events span (a daily rate cycle, busiest at 15:00 UTC)', nonNegativeNumber('--days'), 30)
    .option('--start <time>', 'first instant of the span (ISO-8601 or ms since the epoch)', time('--start'), DEFAULT_START_MS)
    .option('--snapshot-every <n>', "a snapshot round every n input events per process (0 = none); default: the process's own policy, but at most 100 rounds over the history", nonNegativeInt('--snapshot-every'))
    .option('--no-seal', 'leave the WAL unsealed (no Arrow/Parquet; faster; the store seals on its next open for writing)')
    .option('--json', 'print one JSON object on stdout')
    .addHelpText(
      'after',
      `
Examples:
  spive dataset generate bank --out /tmp/bank-1m --events 1000000
  spive dataset generate bank --out /tmp/bank-hot --events 200000 --keys 1000 --skew 1.2 --seed 7
  spive dataset generate game --out /tmp/game --events 50000 --snapshot-every 10000 --json

Input events follow a Zipf law over keys, a daily rate cycle over --days, and payload sizes with a
heavy (log-normal) tail. Outputs carry the meta ({v, m, in}) and snapshots the version that
'spive run' would use (the app's source hash), so the real runtime resumes the store without
appending anything. By default each process gets a snapshot round every max(its policy, 1% of
--events) inputs, so a large dataset is mostly events (each round stores every shard changed since the
last one); --snapshot-every sets the cadence.`,
    )
    .action(async (exampleName: string, options: GenerateCliOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      const example = findExample(exampleName);
      if (example === undefined) throw new UsageError(`<example>: expected one of ${DATASET_EXAMPLES.map((e) => e.name).join(', ')}, got ${JSON.stringify(exampleName)}`);
      const keys = options.keys ?? example.defaultKeys;
      if (options.days <= 0) throw new UsageError(`--days: expected a number > 0, got ${options.days}`);
      if (/^[a-z][a-z0-9+.-]*:/i.test(options.out)) {
        throw new UsageError(`--out: dataset generate makes an embedded store folder, got ${JSON.stringify(options.out)}; for another store, generate a folder and copy it: spive store copy <dir> <store>`);
      }
      if (existsSync(options.out) && (!statSync(options.out).isDirectory() || readdirSync(options.out).length > 0)) {
        throw new UsageError(`--out: expected a new or empty folder, but ${options.out} ${statSync(options.out).isDirectory() ? 'is not empty' : 'is a file'}`);
      }
      const result = await generateDataset({
        example,
        out: options.out,
        events: options.events,
        keys,
        skew: options.skew,
        seed: options.seed,
        days: options.days,
        startMs: options.start,
        seal: options.seal,
        ...(options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery }),
        onProgress: (done, total) => out.progress(`generating ${example.name}: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} input events`),
        warn: out.warn,
      });
      out.result(result);
      const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
      out.line(`${result.path}: ${example.name} dataset, ${result.events} input events over ${result.keys} keys (skew ${result.skew}, seed ${result.seed}), ${iso(result.minTime)} .. ${iso(result.maxTime)}`);
      for (const s of result.streams) out.line(`  ${s.stream.padEnd(16)} ${String(s.events).padStart(10)} events ${String(s.shards).padStart(8)} shards`);
      for (const p of result.processes) out.line(`  process ${p.process}@${p.version}: ${p.eventsIn} in, ${p.eventsOut} out, ${p.rounds} snapshot rounds`);
      out.line(`  ${result.storeEvents} events and ${result.snapshots} snapshots, ${(result.walBytes / 1048576).toFixed(1)} MiB of WAL, in ${(result.wallMs / 1000).toFixed(1)} s`);
    });
}
