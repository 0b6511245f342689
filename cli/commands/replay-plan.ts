/**
 * `spive replay-plan`: how to rebuild a changed process, by cost. Brings the store's statistics
 * catalogue up to date (incrementally), calibrates the process's costs on a sample of its real
 * events, prints every strategy with its estimates, the chosen one and the downstream shards that
 * must follow, and writes the plan for `spive replay` (`--out`).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { StatsCatalogue, type UpdateReport } from '../../analyzer/catalogue/catalogue.ts';
import { storeHistory } from '../../analyzer/catalogue/store-source.ts';
import { fmtMs, planReplay } from '../../analyzer/plan.ts';
import type { ReplayPlan, StrategyEstimate } from '../../analyzer/types.ts';
import { loadApp } from '../../src/app/load-app.ts';
import type { HistoryExportReport } from '../../src/store/postgres/history-export.ts';
import { realClock } from '../../src/time/clock.ts';
import { exportForAnalysis, openAnalyzedStore } from '../analyzed-store.ts';
import type { CommandContext } from '../main.ts';
import { duration, positiveInt, time } from '../options.ts';
import { makeOutput, type Output } from '../output.ts';

interface ReplayPlanCliOptions {
  store: string;
  catalogue?: string;
  app: string;
  process: string;
  since?: number;
  keys?: string;
  workers: number;
  out?: string;
  adviseSnapshots?: boolean;
  changeEvery: number;
  json?: boolean;
}

export function registerReplayPlan(program: Command, context: CommandContext): void {
  program
    .command('replay-plan')
    .description('estimate how to rebuild a changed process (shards from scratch, time ray from snapshots, per-shard mix, full rebuild) and choose by cost')
    .requiredOption('--store <loc>', 'the store: a path or file:<dir> (opened read-only; works while spive run holds it), postgres://… or nats://…')
    .option('--catalogue <dir>', 'folder of the statistics catalogue (and of a PostgreSQL store\'s Parquet export); default <store>/analyzer for an embedded store, .spive-analyzer/<host>-<port>-<database>-<schema> (in the working directory) for PostgreSQL')
    .requiredOption('--app <app>', 'the app with the changed process: a module, or a folder holding app.ts')
    .requiredOption('--process <name>', 'the changed process')
    .option('--since <time>', 'its behaviour differs for events from this time on (ISO-8601 or ms since the epoch); default: the beginning, if its version changed', time('--since'))
    .option('--keys <expr>', "only shards whose key matches this DuckDB SQL condition, e.g. \"key IN ('a','b')\" or \"key LIKE 'acct-1%'\"")
    .option('--workers <n>', 'parallel replay workers to plan for', positiveInt('--workers'), 1)
    .option('--out <plan.json>', 'write the plan for spive replay')
    .option('--advise-snapshots', 'also recommend a snapshot interval per process (Young/Daly optimal checkpoint interval)')
    .option('--change-every <duration>', 'with --advise-snapshots: assumed event time between changes needing a replay, when the store shows none', duration('--change-every'), 30 * 86_400_000)
    .option('--json', 'print one JSON object on stdout')
    .addHelpText(
      'after',
      `
Examples:
  spive replay-plan --store .spive --app examples/bank --process ledger
  spive replay-plan --store .spive --app examples/bank --process ledger --since 2026-03-01T00:00:00Z --workers 4 --out plan.json
  spive replay-plan --store .spive --app examples/bank --process balances --keys "key LIKE 'acct-1%'" --json
  spive replay-plan --store 'postgres://db.internal/events?schema=bank' --app examples/bank --process ledger

Without --since: if the app's version of the process differs from the one that wrote its output,
the change starts at the beginning; if it is the same, nothing needs replaying (chosen: null).`,
    )
    .action(async (options: ReplayPlanCliOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      const loaded = await loadApp(options.app);
      const clock = realClock;
      const started = clock.monotonicMs();
      out.progress('opening the store…');
      const analyzed = await openAnalyzedStore(options.store, { ...(options.catalogue === undefined ? {} : { catalogue: options.catalogue }), write: false, command: 'spive replay-plan', warn: out.warn });
      const { store } = analyzed;
      let catalogue: StatsCatalogue | undefined;
      try {
        out.progress('exporting sealed history…');
        const exported = await exportForAnalysis(analyzed);
        catalogue = await StatsCatalogue.open(join(analyzed.catalogueDir, 'stats.duckdb'));
        out.progress('updating statistics…');
        const update = await catalogue.update(storeHistory(store));
        out.progress('calibrating costs on a sample of real events…');
        const plan = await planReplay({
          store,
          catalogue,
          app: loaded.app,
          appFile: loaded.file,
          appVersion: loaded.version,
          process: options.process,
          since: options.since ?? null,
          keys: options.keys ?? null,
          workers: options.workers,
          clock,
          ...(options.adviseSnapshots === true ? { adviseSnapshots: { changeEveryMs: options.changeEvery } } : {}),
        });
        const planningMs = clock.monotonicMs() - started;
        if (options.out !== undefined) writeFileSync(options.out, `${JSON.stringify(plan, null, 2)}\n`);
        out.result({
          ...plan,
          statistics: update,
          ...(exported === null ? {} : { export: exported }),
          catalogue: resolve(analyzed.catalogueDir),
          planningMs: Math.round(planningMs),
          out: options.out === undefined ? null : resolve(options.out),
        });
        printPlan(out, plan, update, exported, planningMs, options.out);
      } finally {
        catalogue?.close();
        await store.close();
      }
    });
}

function printPlan(out: Output, plan: ReplayPlan, update: UpdateReport, exported: HistoryExportReport | null, planningMs: number, file: string | undefined): void {
  const c = plan.change;
  out.line(`replay plan for ${plan.process} (${c.fromVersion ?? 'no output yet'} → ${c.toVersion}), ${c.since === null ? 'from the beginning' : `since ${new Date(c.since).toISOString()}`}${c.keys === null ? '' : `, keys matching ${c.keys}`}, ${plan.workers} worker${plan.workers === 1 ? '' : 's'}`);
  out.line(
    `store ${plan.store}: ${count(plan.stats.events)} events; statistics: ${update.filesAdded} new sealed files, ${count(update.tailEvents)} tail events${update.rebuilt ? ` (rebuilt: ${update.reason})` : ''}; planned in ${fmtMs(planningMs)}`,
  );
  if (exported !== null) {
    out.line(`history export ${exported.dir}: ${exported.rangesExported} new ranges (${count(exported.rowsExported)} events) in ${fmtMs(exported.wallMs)}; ${exported.files} files up to position ${count(exported.exportedThrough)}${exported.restarted === null ? '' : ` (started over: ${exported.restarted})`}`);
  }
  out.line();
  const header = ['strategy', 'applies', 'shards', 'events', 'bytes', 'snapshots', 'cpu', 'wall'];
  const rows = plan.strategies.map((s) => row(s, plan.chosen));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const render = (cells: readonly string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ');
  out.line(render(header));
  for (const r of rows) out.line(render(r));
  out.line();
  for (const s of plan.strategies) if (s.reason !== null) out.line(`  ${s.name}: ${s.reason}`);
  out.line();
  out.line(plan.chosen === null ? `chosen: none — ${plan.why}` : `chosen: ${plan.chosen} — ${plan.why}`);
  if (plan.downstream.length > 0) {
    out.line('downstream:');
    for (const d of plan.downstream) {
      const keys = d.sampleKeys.length === 0 ? '' : `: ${d.sampleKeys.slice(0, 8).join(', ')}${d.shards > 8 ? ', …' : ''}`;
      out.line(`  ${d.process} (via ${d.via.join(', ')}): ${count(d.shards)} shards by ${d.lineage} lineage, ${count(d.eventsToRead)} events, ~${fmtMs(d.estimatedWallMs)}${keys}`);
      if (d.reason !== null) out.line(`    ${d.reason}`);
    }
  }
  const k = plan.cost;
  out.line(`cost model (${k.source}, ${k.samples} events): ${(k.nsPerEvent / 1000).toFixed(2)} µs/event, ${k.nsPerByte.toFixed(1)} ns/payload byte, ${(k.nsPerSnapshot / 1000).toFixed(1)} µs + ${k.nsPerSnapshotByte.toFixed(1)} ns/byte per snapshot, ${(k.nsPerShard / 1000).toFixed(1)} µs/shard${plan.fixedMs === null ? '' : `; a run's fixed cost ${fmtMs(plan.fixedMs)} (measured by the last replay)`}`);
  for (const a of plan.advice ?? []) {
    if ('reason' in a) out.line(`snapshots of ${a.process}: no advice (${a.reason})`);
    else {
      out.line(
        `snapshots of ${a.process}: every ~${count(a.everyEvents)} input events (Daly ${fmtMs(a.dalyIntervalMs)} of processing, Young ${fmtMs(a.youngIntervalMs)}; a round costs ${fmtMs(a.snapshotCostMs)}, M = ${fmtMs(a.meanTimeBetweenChangesMs)}, ${a.changeIntervalSource}); now every ${count(a.currentEveryEvents)}`,
      );
    }
  }
  if (file !== undefined) out.line(`plan written to ${file}`);
}

function row(s: StrategyEstimate, chosen: string | null): string[] {
  const name = `${s.name === chosen ? '* ' : '  '}${s.name}`;
  if (!s.applicable) return [name, 'no', '-', '-', '-', '-', '-', '-'];
  return [name, 'yes', count(s.shards), count(s.eventsToRead), bytes(s.bytesToRead), bytes(s.snapshotBytes), fmtMs(s.estimatedCpuMs), fmtMs(s.estimatedWallMs)];
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
