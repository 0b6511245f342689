/**
 * `spive import <file> --store <loc> --stream S --key COL --time COL`: loads a real event log
 * (Parquet, CSV or JSON lines, read by DuckDB) into a stream. All or nothing: every row is checked
 * first, and bad rows are reported with file and row number (exit 2), before anything is appended.
 */
import type { Command } from 'commander';
import { DEFAULT_EVENT_TYPE, importEvents } from '../../analyzer/import/import-events.ts';
import { DEFAULT_STORE_LOCATION, openStore } from '../../src/store/open-store.ts';
import { UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { makeOutput } from '../output.ts';

interface ImportCliOptions {
  store: string;
  stream: string;
  key: string;
  time: string;
  type?: string;
  typeValue?: string;
  json?: boolean;
}

export function registerImport(program: Command, context: CommandContext): void {
  program
    .command('import')
    .description('load events from a Parquet, CSV or JSON-lines file into a stream; all or nothing (bad rows are reported, nothing is appended)')
    .argument('<file>', 'the log: .parquet, .csv (with a header) or .jsonl/.ndjson')
    .option('--store <loc>', 'store location: a path, file:<dir>, memory:, postgres://… or nats://…', DEFAULT_STORE_LOCATION)
    .requiredOption('--stream <name>', 'the stream to append to')
    .requiredOption('--key <column>', 'column holding each event’s shard key')
    .requiredOption('--time <column>', 'column holding each event’s time: ISO-8601 (no zone = UTC), a timestamp, or integer ms since the epoch')
    .option('--type <column>', 'column holding each event’s type')
    .option('--type-value <type>', `one type for every event (default ${JSON.stringify(DEFAULT_EVENT_TYPE)} when no --type column is given)`)
    .option('--json', 'print one JSON object on stdout: {events, keys, minTime, maxTime, …}')
    .addHelpText(
      'after',
      `
Examples:
  spive import flights.parquet --store /tmp/flights --stream flights --key origin --time date --type-value Flight
  spive import orders.csv --store .spive --stream orders --key customer --time created_at --type kind
  spive import events.jsonl --store .spive --stream clicks --key user --time ts --json

Every other column becomes a field of the event's data. Rows keep the file's order within each key.
A bad row (no key, an unparsable time, an empty type) aborts the import before anything is appended;
the report names the file and row of each (exit 2).`,
    )
    .action(async (file: string, options: ImportCliOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      if (options.type !== undefined && options.typeValue !== undefined) throw new UsageError('--type and --type-value: give one of them, not both');
      const store = await openStore(options.store, { command: `spive import ${file}`, warn: out.warn });
      let result;
      try {
        result = await importEvents({
          file,
          store,
          stream: options.stream,
          keyColumn: options.key,
          timeColumn: options.time,
          ...(options.type === undefined ? {} : { typeColumn: options.type }),
          ...(options.typeValue === undefined ? {} : { typeValue: options.typeValue }),
          onProgress: (phase, rows, total) => out.progress(`${phase}: ${rows.toLocaleString('en-US')}${total === undefined ? '' : ` / ${total.toLocaleString('en-US')}`} rows`),
        });
      } finally {
        await store.close();
      }
      out.result(result);
      const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
      out.line(`imported ${result.events} events over ${result.keys} keys into ${options.stream} on ${store.location} (${iso(result.minTime)} .. ${iso(result.maxTime)}) in ${(result.wallMs / 1000).toFixed(1)} s`);
    });
}
