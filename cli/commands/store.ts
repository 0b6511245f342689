/**
 * `spive store stats|verify <location>`: what a store holds, and whether every byte of it checks out.
 * Both open an embedded store read-only, so they work while `spive run` holds it.
 */
import type { Command } from 'commander';
import { isCorrupt } from '../../src/model/errors.ts';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.ts';
import { parseStoreLocation } from '../../src/store/open-store.ts';
import { EXIT_FOUND_PROBLEM, UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { makeOutput } from '../output.ts';

async function openReadOnly(location: string, warn: (m: string) => void): Promise<EmbeddedStore> {
  const parsed = parseStoreLocation(location, '<store>');
  if (parsed.kind !== 'embedded') {
    throw new UsageError(`<store>: expected an embedded store (a path or file:<dir>), got ${JSON.stringify(location)}`);
  }
  return EmbeddedStore.open(parsed.dir, { readOnly: true, warn });
}

export function registerStore(program: Command, context: CommandContext): void {
  const store = program.command('store').description('inspect and verify an embedded event store');

  store
    .command('stats')
    .description('print what a store holds: streams, shards, events, time range, snapshots, sealed segments')
    .argument('<store>', 'store location: a path or file:<dir>')
    .option('--json', 'print one JSON object on stdout')
    .action(async (location: string, options: { json?: boolean }) => {
      const out = makeOutput(options.json === true, context.streams);
      const s = await openReadOnly(location, out.warn);
      try {
        const stats = await s.stats();
        const sealed = s.sealedSegments().length;
        out.result({ location: s.location, ...stats, sealedSegments: sealed });
        out.line(`${s.location}: ${stats.events} events in ${stats.streams.length} streams, ${stats.snapshots} snapshots, ${sealed} sealed segments`);
        for (const st of stats.streams) {
          out.line(
            `  ${st.stream.padEnd(24)} ${String(st.events).padStart(10)} events ${String(st.shards).padStart(8)} shards  ` +
              `${st.minTime === null ? '-' : new Date(st.minTime).toISOString()} .. ${st.maxTime === null ? '-' : new Date(st.maxTime).toISOString()}`,
          );
        }
      } finally {
        await s.close();
      }
    });

  store
    .command('verify')
    .description('check every checksum and decode every record of a store; exit 1 if anything is corrupt')
    .argument('<store>', 'store location: a path or file:<dir>')
    .option('--json', 'print one JSON object on stdout')
    .action(async (location: string, options: { json?: boolean }) => {
      const out = makeOutput(options.json === true, context.streams);
      let events = 0;
      let columnRows = 0;
      let snapshots = 0;
      let problem: { file: string; offset: number; message: string } | undefined;
      let s: EmbeddedStore | undefined;
      try {
        s = await openReadOnly(location, out.warn);
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
}
