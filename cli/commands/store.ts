/**
 * `spive store stats|verify|copy`: what a store holds, whether every byte of an embedded store
 * checks out, and copying a store into an empty one (embedded to PostgreSQL, say). An embedded store
 * is opened read-only where it is only read, so these work while `spive run` holds it.
 */
import type { Command } from 'commander';
import { isCorrupt } from '../../src/model/errors.ts';
import { copyStore } from '../../src/store/copy-store.ts';
import { currentGeneration } from '../../src/replay/generation-record.ts';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { openStore, parseStoreLocation } from '../../src/store/open-store.ts';
import { realClock } from '../../src/time/clock.ts';
import { EXIT_FOUND_PROBLEM, UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { makeOutput } from '../output.ts';
import { registerStoreRead } from './store-read.ts';
import { openForReading } from '../open-for-reading.ts';

/** The store named by the `<store>` argument or `--store` (exactly one of them); commander reports a missing one like any missing argument. */
function storeArgument(command: Command, argument: string | undefined, option: string | undefined): string {
  if (argument !== undefined && option !== undefined) throw new UsageError('<store> and --store: give the store once');
  const location = argument ?? option;
  if (location === undefined) command.error("error: missing required argument 'store' (give it as <store> or --store <loc>: a path, file:<dir>, postgres://… or nats://…)");
  return location;
}

async function openEmbeddedReadOnly(location: string, warn: (m: string) => void, field: string, what: string): Promise<EmbeddedStore> {
  const parsed = parseStoreLocation(location, field);
  if (parsed.kind !== 'embedded') {
    throw new UsageError(`${field}: ${what} works on an embedded store only (a path or file:<dir>), got ${JSON.stringify(location)}`);
  }
  return EmbeddedStore.open(parsed.dir, { readOnly: true, warn });
}


export function registerStore(program: Command, context: CommandContext): void {
  const store = program.command('store').description('inspect, verify and copy event stores');

  const stats = store
    .command('stats')
    .description('print what a store holds: streams, shards, events, time range, snapshots (and an embedded store\'s sealed segments)')
    .argument('[store]', 'store location: a path, file:<dir>, postgres://… or nats://…')
    .option('--store <loc>', 'the same, as an option')
    .option('--json', 'print one JSON object on stdout')
    .action(async (argument: string | undefined, options: { store?: string; json?: boolean }) => {
      const out = makeOutput(options.json === true, context.streams);
      const s = await openForReading(storeArgument(stats, argument, options.store), out.warn, argument === undefined ? '--store' : '<store>');
      try {
        const stats = await s.stats();
        const sealed = s instanceof EmbeddedStore ? s.sealedSegments().length : null;
        const generation = (await currentGeneration(s)) ?? null;
        out.result({ location: s.location, ...stats, ...(sealed === null ? {} : { sealedSegments: sealed }), generation });
        out.line(`${s.location}: ${stats.events} events in ${stats.streams.length} streams, ${stats.snapshots} snapshots${sealed === null ? '' : `, ${sealed} sealed segments`}`);
        for (const st of stats.streams) {
          out.line(
            `  ${st.stream.padEnd(24)} ${String(st.events).padStart(10)} events ${String(st.shards).padStart(8)} shards  ` +
              `${st.minTime === null ? '-' : new Date(st.minTime).toISOString()} .. ${st.maxTime === null ? '-' : new Date(st.maxTime).toISOString()}`,
          );
        }
        if (generation !== null) {
          out.line(
            `current generation: ${generation.generation} of ${Object.keys(generation.streams).join(', ')} (switched over at ${new Date(generation.switchedAt).toISOString()}; ` +
              `the old version stays in the base streams: spive store read <stream> --base)`,
          );
        }
      } finally {
        await s.close();
      }
    });

  store
    .command('verify')
    .description('check every checksum and decode every record of an embedded store; exit 1 if anything is corrupt')
    .argument('<store>', 'store location: a path or file:<dir> (embedded only: a PostgreSQL or JetStream server checks its own data)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (location: string, options: { json?: boolean }) => {
      const out = makeOutput(options.json === true, context.streams);
      let events = 0;
      let columnRows = 0;
      let snapshots = 0;
      let problem: { file: string; offset: number; message: string } | undefined;
      let s: EmbeddedStore | undefined;
      try {
        s = await openEmbeddedReadOnly(location, out.warn, '<store>', 'store verify');
        for await (const batch of s.readAll({ batchSize: 10_000 })) {
          events += batch.length;
          out.progress(`verifying events: ${events}`);
        }
        for (const info of await s.listSnapshots()) {
          const snap = await s.getSnapshot({ ...info, atOrBefore: info.position });
          if (snap !== undefined) snapshots++;
        }
        for (const stream of (await s.stats()).streams) {
          for await (const batch of s.scanColumns(stream.stream)) columnRows += batch.length;
        }
      } catch (e) {
        if (!isCorrupt(e)) throw e;
        problem = { file: e.file, offset: e.offset, message: e.message };
      } finally {
        await s?.close();
      }
      const ok = problem === undefined;
      out.result({ ok, events, columnRows, snapshots, problem: problem ?? null });
      if (ok) out.line(`ok: ${events} events, ${columnRows} column rows and ${snapshots} snapshots verified`);
      else out.line(`CORRUPT: ${problem?.message}`);
      if (!ok) context.exitCode = EXIT_FOUND_PROBLEM;
    });

  registerStoreCopy(store, context);
  registerStoreRead(store, context);
}

function registerStoreCopy(store: Command, context: CommandContext): void {
  store
    .command('copy')
    .description('copy every event (same seq and global positions) and snapshot of a store into an empty one, e.g. embedded to PostgreSQL')
    .argument('<from>', 'the source: a path, file:<dir>, postgres://… or nats://… (an embedded store is opened read-only)')
    .argument('<to>', 'the target, empty: a path, file:<dir>, postgres://… or nats://…')
    .option('--json', 'print one JSON object on stdout: {events, appends, streams, snapshots, wallMs}')
    .addHelpText(
      'after',
      `
Examples:
  spive store copy .spive 'postgres://db.internal/events?schema=bank'
  spive store copy datasets/bank-small /tmp/bank-copy

Stop writers to the source first (spive run holds an embedded store; the copy reads it read-only and
sees what was committed when each read began). Leases are not copied.`,
    )
    .action(async (fromText: string, toText: string, options: { json?: boolean }) => {
      const out = makeOutput(options.json === true, context.streams);
      if (parseStoreLocation(toText, '<to>').kind === 'memory') throw new UsageError('<to>: memory: ends with this process; copy into a path, file:<dir>, postgres://… or nats://…');
      const from = await openForReading(fromText, out.warn, '<from>');
      let to: EventStore | undefined;
      try {
        to = await openStore(parseStoreLocation(toText, '<to>'), { command: 'spive store copy', warn: out.warn });
        const report = await copyStore(from, to, { clock: realClock, onProgress: (n, total) => out.progress(`copied ${n.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} events`) });
        out.result({ from: from.location, to: to.location, ...report });
        out.line(`copied ${report.events} events (${report.appends} appends, ${report.streams} streams) and ${report.snapshots} snapshots from ${from.location} to ${to.location} in ${(report.wallMs / 1000).toFixed(1)} s`);
      } finally {
        await to?.close();
        await from.close();
      }
    });
}
