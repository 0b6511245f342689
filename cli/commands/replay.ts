/**
 * `spive replay`: executes a replay plan (`spive replay-plan --out plan.json`) on the store — the
 * changed process's new version into `<output>--<version>`, sharing the old output's prefix, then
 * its downstream — with effects suppressed, resumable after a kill, optionally verified. Records the
 * measured cost in the analyzer's catalogue so that later plans are calibrated by real runs.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { fmtMs } from '../../analyzer/plan.ts';
import { STRATEGY_NAMES, type StrategyName } from '../../analyzer/types.ts';
import { NotFoundError } from '../../src/model/errors.ts';
import { readPlanFile } from '../../src/replay/plan-file.ts';
import type { ReplayProgress } from '../../src/replay/types.ts';
import { LockFile } from '../../src/store/embedded/lock-file.ts';
import { parseStoreLocation } from '../../src/store/open-store.ts';
import { realClock } from '../../src/time/clock.ts';
import { catalogueDirFor, openAnalyzedStore } from '../analyzed-store.ts';
import { EXIT_FOUND_PROBLEM, UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { positiveInt } from '../options.ts';
import { switchOffline } from '../../src/runtime/switch-over.ts';
import { makeOutput, type Output } from '../output.ts';
import { executeReplay, loadPlannedApp, type ReplayRequest, type ReplayResult } from '../replay-execution.ts';
import { handOffReplay } from '../replay-handoff.ts';

interface ReplayCliOptions {
  plan: string;
  store: string;
  catalogue?: string;
  strategy?: StrategyName;
  verify?: boolean;
  verifySample: number;
  effects?: boolean;
  concurrency: number;
  workers: number;
  workersFrom?: string;
  switch?: boolean;
  json?: boolean;
}

function strategyName(value: string): StrategyName {
  if (!(STRATEGY_NAMES as readonly string[]).includes(value)) throw new InvalidArgumentError(`--strategy expects one of ${STRATEGY_NAMES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as StrategyName;
}

export function registerReplay(program: Command, context: CommandContext): void {
  program
    .command('replay')
    .description("execute a replay plan: rebuild the changed process's output as a new version (sharing the old prefix) and its downstream, effects suppressed, resumable")
    .requiredOption('--plan <plan.json>', 'the plan written by spive replay-plan --out')
    .requiredOption('--store <loc>', 'the store: a path or file:<dir> (opened for writing; when `spive run` holds it, the plan is handed to that instance, which executes it while it keeps serving), postgres://… or nats://…')
    .option('--catalogue <dir>', 'folder of the statistics catalogue, where the measured cost is recorded (default as for spive replay-plan)')
    .option('--strategy <name>', `force a strategy instead of the plan's choice (${STRATEGY_NAMES.join(', ')}); the tasks are planned again`, strategyName)
    .option('--verify', 'run the new version over a sample of shards outside the affected set and compare with the old output; exit 1 on a difference')
    .option('--verify-sample <n>', 'with --verify: shards compared at most', positiveInt('--verify-sample'), 25)
    .option('--effects', 'list every suppressed effect ("would have done X")')
    .option('--concurrency <n>', 'shards in flight at once (their appends share fsyncs)', positiveInt('--concurrency'), 8)
    .option('--workers <n>', 'worker threads running the handlers (this process still reads and writes the store); 1 runs them here', positiveInt('--workers'), 1)
    .option('--workers-from <postgres-url>', 'share the shard tasks with every other `spive replay` of the same plan started with this option (on any machine): each claims batches from a table in this PostgreSQL database; a killed one is taken over')
    .option('--switch', 'then make the new version current: a `spive run` holding the store keeps serving while the new version catches up and takes over in one step (its downstream processes are rebuilt live); on a store nobody runs, the next `spive run` of the new code takes over')
    .option('--json', 'print one JSON object on stdout')
    .addHelpText(
      'after',
      `
Examples:
  spive replay-plan --store .spive --app examples/bank --process ledger --since 2026-03-01T00:00:00Z --out plan.json
  spive replay --plan plan.json --store .spive
  spive replay --plan plan.json --store .spive --strategy shards-from-scratch --verify --json
  spive replay --plan plan.json --store .spive --effects
  spive replay --plan plan.json --store .spive --switch   # then make the new version current (docs/replay.md)
  spive replay --plan plan.json --store postgres://db/app --workers-from postgres://db/app   # run on several machines

The new version of stream S is written to S--<version> (the plan's change.toVersion), for the changed
process and every downstream process; shards the replay did not touch, and each rebuilt shard's prefix
up to its $fork record's baseSeq, are read from S itself. Killed at any moment, the same command
continues where it stopped. Effects are never performed. With --switch, the new version then becomes
current in one step (a spive run holding the store keeps serving meanwhile); the old version stays.`,
    )
    .action(async (options: ReplayCliOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      const planPath = resolve(options.plan);
      const plan = readPlanFile(planPath);
      const location = parseStoreLocation(options.store, '--store');
      if (options.workersFrom !== undefined && parseStoreLocation(options.workersFrom, '--workers-from').kind !== 'postgres') {
        throw new UsageError(`--workers-from: expected postgres://… (the shard tasks are shared through a PostgreSQL table), got ${JSON.stringify(options.workersFrom)}`);
      }
      catalogueDirFor(location, options.catalogue); // memory: is refused here, before anything is loaded
      if (location.kind === 'embedded' && !existsSync(join(location.dir, 'FORMAT'))) throw new NotFoundError(`store ${options.store} (no FORMAT file in ${resolve(location.dir)})`);
      const request: ReplayRequest = {
        plan,
        planPath,
        ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
        verify: options.verify === true ? options.verifySample : false,
        effects: options.effects === true,
        concurrency: options.concurrency,
        workers: options.workers,
        ...(options.workersFrom === undefined ? {} : { workersFrom: options.workersFrom }),
        ...(options.switch === true ? { switchOver: true } : {}),
      };
      if (options.switch === true && options.workersFrom !== undefined) throw new UsageError('--switch with --workers-from: run the distributed replay first, then switch over with one `spive replay --switch` of the same plan (it finds every shard done)');
      const progress = progressBar(out, realClock);
      let result: ReplayResult;
      // A store that `spive run` holds is written by it alone: hand it the plan (DESIGN.md, "Who writes the embedded store").
      const holder = location.kind === 'embedded' ? LockFile.holder(join(location.dir, 'LOCK')) : undefined;
      if (holder?.endpoint !== undefined) {
        if (options.catalogue !== undefined) throw new UsageError(`--catalogue: the store is held by ${holder.command} (pid ${holder.pid}), which records the measured cost in the store's own catalogue; leave --catalogue out`);
        if (options.workersFrom !== undefined) throw new UsageError(`--workers-from: the store is held by ${holder.command} (pid ${holder.pid}); a distributed replay needs a PostgreSQL store`);
        out.progress(`the store is held by ${holder.command} (pid ${holder.pid}): handing the plan to it at ${holder.endpoint}…`);
        result = await handOffReplay(holder.endpoint, request, { progress, step: out.progress, warn: out.warn }, `${holder.command} (pid ${holder.pid})`);
      } else {
        const loaded = await loadPlannedApp(plan, planPath); // a changed app fails before the store is opened
        out.progress('opening the store…');
        const analyzed = await openAnalyzedStore(options.store, { ...(options.catalogue === undefined ? {} : { catalogue: options.catalogue }), write: true, command: 'spive replay', warn: out.warn });
        try {
          result = await executeReplay(analyzed, request, { progress, step: out.progress, warn: out.warn }, 'spive replay', loaded);
          if (options.switch === true) {
            const { change } = plan;
            const switched = await switchOffline(analyzed.store, { app: loaded.app, appVersion: loaded.version, process: plan.process, generation: change.toVersion, fromVersion: change.fromVersion, since: change.since, onStep: out.progress }, realClock);
            result = { ...result, switchOver: switched };
          }
        } finally {
          await analyzed.store.close();
        }
      }
      const { executedBy: _executedBy, process: _process, fromVersion: _from, toVersion: _to, ...json } = result;
      out.result(holder?.endpoint === undefined ? json : { ...json, executedBy: result.executedBy });
      printResult(out, result, options.effects === true);
      if (result.verified === false) context.exitCode = EXIT_FOUND_PROBLEM;
    });
}

function progressBar(out: Output, clock: typeof realClock): (p: ReplayProgress) => void {
  let last = 0;
  return (p) => {
    const now = clock.monotonicMs();
    if (now - last < 100 && p.eventsDone < p.eventsTotal) return;
    last = now;
    const frac = p.eventsTotal === 0 ? 1 : Math.min(1, p.eventsDone / p.eventsTotal);
    const width = 24;
    const filled = Math.round(frac * width);
    const rate = p.elapsedMs > 0 ? (p.eventsDone / p.elapsedMs) * 1000 : 0;
    const left = rate > 0 ? ((p.eventsTotal - p.eventsDone) / rate) * 1000 : Number.NaN;
    out.progress(
      `${p.process} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${count(p.eventsDone)}/${count(p.eventsTotal)} events, ${p.shardsDone}/${p.shardsTotal} shards, ${count(rate)} ev/s, ${Number.isFinite(left) ? `${fmtMs(Math.max(0, left))} left` : '…'}`,
    );
  };
}

function printResult(out: Output, r: ReplayResult, effects: boolean): void {
  const estimated = r.estimatedWallMs;
  out.line(`replayed ${r.process} (${r.fromVersion ?? 'no output'} → ${r.toVersion}) with ${r.strategy} in ${fmtMs(r.actualWallMs)}${estimated === null ? '' : ` (estimated ${fmtMs(estimated)})`}${r.executedBy === 'spive replay' ? '' : ` by ${r.executedBy}`}`);
  for (const p of r.processes) {
    out.line(
      `  ${p.process}@${p.version} → ${p.outputStream}: ${count(p.shards)} shards${p.resumedShards > 0 ? ` (${count(p.resumedShards)} from an earlier run)` : ''}, ${count(p.eventsRead)} events read, ${count(p.eventsWritten)} written, ${count(p.eventsShared)} shared with ${p.baseStream}, ${fmtMs(p.wallMs)}`,
    );
  }
  out.line(`events read ${count(r.eventsRead)}, written ${count(r.eventsWritten)}; ${count(r.suppressedEffects)} effects suppressed (never performed)`);
  if (effects) for (const e of r.effects ?? []) out.line(`  would have done ${e.gateway} ${JSON.stringify(e.request)} (${e.idempotencyKey}${e.changed ? ', new in this version' : ''})`);
  if (r.verify !== null) {
    const v = r.verify;
    if (v.verified) out.line(`verified: ${v.shardsCompared} of ${v.candidates} unaffected shards give the old output (${count(v.eventsCompared)} events)`);
    else {
      const d = v.firstDifference;
      out.line(`verified: false — shard ${d?.shard} differs at seq ${d?.seq}: old ${JSON.stringify(d?.expected)}, new ${JSON.stringify(d?.actual)}`);
    }
  }
  if (r.switchOver !== null) {
    const w = r.switchOver;
    out.line(
      w.pauseMs === 0 && w.catchUpMs === 0
        ? `switched ${w.streams.join(', ')} to generation ${w.generation}: start spive run with the new code; the old version stays in ${w.streams.join(', ')} as it was`
        : `switched ${w.streams.join(', ')} to generation ${w.generation}: the new version caught up in ${fmtMs(w.catchUpMs)}, output paused ${fmtMs(w.pauseMs)}; the old version stays in ${w.streams.join(', ')} as it was`,
    );
  }
  if (r.calibration !== null) out.line(`calibration recorded: actual/estimated = ${r.calibration.factor}; a run's fixed cost ${fmtMs(r.calibration.fixedMs)}`);
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
