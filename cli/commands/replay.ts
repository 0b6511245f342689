/**
 * `spive replay`: executes a replay plan (`spive replay-plan --out plan.json`) on the store — the
 * changed process's new version into `<output>--<version>`, sharing the old output's prefix, then
 * its downstream — with effects suppressed, resumable after a kill, optionally verified. Records the
 * measured cost in the analyzer's catalogue so that later plans are calibrated by real runs.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { StatsCatalogue } from '../../analyzer/catalogue/catalogue.ts';
import { storeHistory } from '../../analyzer/catalogue/store-source.ts';
import { fmtMs, planReplay } from '../../analyzer/plan.ts';
import { STRATEGY_NAMES, type CostModel, type StrategyName } from '../../analyzer/types.ts';
import { loadApp } from '../../src/app/load-app.ts';
import { NotFoundError } from '../../src/model/errors.ts';
import { runReplay, processVersion, type MeasuredCost, type ReplayRun } from '../../src/replay/engine.ts';
import { checkPlan, jobOf, readPlanFile, type PlanFile } from '../../src/replay/plan-file.ts';
import type { ReplayProgress } from '../../src/replay/types.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { parseStoreLocation } from '../../src/store/open-store.ts';
import { realRandom } from '../../src/random/real-random.ts';
import { PostgresTaskClaims } from '../../src/store/postgres/replay-claims.ts';
import { realClock } from '../../src/time/clock.ts';
import { realTimers } from '../../src/time/timers.ts';
import { catalogueDirFor, exportForAnalysis, openAnalyzedStore, type AnalyzedStore } from '../analyzed-store.ts';
import { EXIT_FOUND_PROBLEM, UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { positiveInt } from '../options.ts';
import { makeOutput, type Output } from '../output.ts';

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
    .requiredOption('--store <loc>', 'the store: a path or file:<dir> (opened for writing), postgres://… or nats://…')
    .option('--catalogue <dir>', 'folder of the statistics catalogue, where the measured cost is recorded (default as for spive replay-plan)')
    .option('--strategy <name>', `force a strategy instead of the plan's choice (${STRATEGY_NAMES.join(', ')}); the tasks are planned again`, strategyName)
    .option('--verify', 'run the new version over a sample of shards outside the affected set and compare with the old output; exit 1 on a difference')
    .option('--verify-sample <n>', 'with --verify: shards compared at most', positiveInt('--verify-sample'), 25)
    .option('--effects', 'list every suppressed effect ("would have done X")')
    .option('--concurrency <n>', 'shards in flight at once (their appends share fsyncs)', positiveInt('--concurrency'), 8)
    .option('--workers <n>', 'worker threads running the handlers (this process still reads and writes the store); 1 runs them here', positiveInt('--workers'), 1)
    .option('--workers-from <postgres-url>', 'share the shard tasks with every other `spive replay` of the same plan started with this option (on any machine): each claims batches from a table in this PostgreSQL database; a killed one is taken over')
    .option('--json', 'print one JSON object on stdout')
    .addHelpText(
      'after',
      `
Examples:
  spive replay-plan --store .spive --app examples/bank --process ledger --since 2026-03-01T00:00:00Z --out plan.json
  spive replay --plan plan.json --store .spive
  spive replay --plan plan.json --store .spive --strategy shards-from-scratch --verify --json
  spive replay --plan plan.json --store .spive --effects
  spive replay --plan plan.json --store postgres://db/app --workers-from postgres://db/app   # run on several machines

The new version of stream S is written to S--<version> (the plan's change.toVersion), for the changed
process and every downstream process; shards the replay did not touch, and each rebuilt shard's prefix
up to its $fork record's baseSeq, are read from S itself. Killed at any moment, the same command
continues where it stopped. Effects are never performed.`,
    )
    .action(async (options: ReplayCliOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      const clock = realClock;
      const planPath = resolve(options.plan);
      let plan = readPlanFile(planPath);
      const location = parseStoreLocation(options.store, '--store');
      if (options.workersFrom !== undefined && parseStoreLocation(options.workersFrom, '--workers-from').kind !== 'postgres') {
        throw new UsageError(`--workers-from: expected postgres://… (the shard tasks are shared through a PostgreSQL table), got ${JSON.stringify(options.workersFrom)}`);
      }
      catalogueDirFor(location, options.catalogue); // memory: is refused here, before anything is loaded
      if (location.kind === 'embedded' && !existsSync(join(location.dir, 'FORMAT'))) throw new NotFoundError(`store ${options.store} (no FORMAT file in ${resolve(location.dir)})`);
      const loaded = await loadApp(plan.app);
      const p = loaded.app.processes.find((q) => q.name === plan.process);
      if (p === undefined) throw new UsageError(`${planPath}: process: ${plan.process} is not a process of ${loaded.file} any more (it has ${loaded.app.processes.map((q) => q.name).join(', ')}); the app changed since planning — run spive replay-plan again`);
      const current = processVersion(p, loaded.version);
      if (current !== plan.change.toVersion) {
        throw new UsageError(
          `${planPath}: change.toVersion: the plan rebuilds ${plan.process} as version ${plan.change.toVersion}, but ${loaded.file} now gives version ${current}: the app changed since planning — run spive replay-plan again`,
        );
      }
      out.progress('opening the store…');
      const analyzed = await openAnalyzedStore(options.store, { ...(options.catalogue === undefined ? {} : { catalogue: options.catalogue }), write: true, command: 'spive replay', warn: out.warn });
      const { store } = analyzed;
      try {
        if (options.strategy !== undefined && options.strategy !== plan.chosen && plan.chosen !== null) {
          out.progress(`planning ${options.strategy}…`);
          plan = await replan(analyzed, plan, planPath, loaded, options.strategy);
        }
        const job = jobOf(plan);
        const progress = progressBar(out, clock);
        // Every process of one distributed replay runs the same job: its hash names the shared tasks.
        const claims =
          options.workersFrom === undefined
            ? undefined
            : await PostgresTaskClaims.open(options.workersFrom, { job: `${job.process}@${job.toVersion}:${createHash('sha256').update(JSON.stringify(job)).digest('hex').slice(0, 16)}`, clock, timers: realTimers, random: realRandom() });
        const result = await runReplay({
          store,
          app: loaded.app,
          appVersion: loaded.version,
          job,
          clock,
          listEffects: options.effects === true,
          verify: options.verify === true ? options.verifySample : false,
          concurrency: options.concurrency,
          workers: options.workers,
          appFile: loaded.file,
          onProgress: progress,
          ...(claims === undefined ? {} : { claims }),
        }).finally(() => claims?.close());
        const recorded = result.measured === null ? null : await recordCost(analyzed.catalogueDir, plan.cost as CostModel | undefined, result.measured, out).catch((e: unknown) => {
          out.warn(`could not record the measured cost in the catalogue: ${e instanceof Error ? e.message : String(e)}`);
          return null;
        });
        const estimated = plan.strategies.find((s) => s.name === job.strategy)?.estimatedWallMs ?? null;
        const verified = result.verify === null ? null : result.verify.verified;
        out.result({
          strategy: job.strategy,
          eventsRead: result.eventsRead,
          actualWallMs: result.wallMs,
          estimatedWallMs: estimated,
          verified,
          shards: result.shards,
          eventsWritten: result.eventsWritten,
          suppressedEffects: result.suppressedEffects,
          ...(options.effects === true ? { effects: result.effects } : {}),
          outputStream: result.outputStream,
          resumedShards: result.resumedShards,
          workers: options.workers,
          processes: result.processes,
          verify: result.verify,
          calibration: recorded,
        });
        printResult(out, plan, result, estimated, options.effects === true, recorded);
        if (verified === false) context.exitCode = EXIT_FOUND_PROBLEM;
      } finally {
        await store.close();
      }
    });
}

/** The plan's request again, with the strategy forced (same change, same cost model for the process). */
async function replan(analyzed: AnalyzedStore, plan: PlanFile, planPath: string, loaded: Awaited<ReturnType<typeof loadApp>>, strategy: StrategyName): Promise<PlanFile> {
  const store: EventStore = analyzed.store;
  await exportForAnalysis(analyzed);
  const catalogue = await StatsCatalogue.open(join(analyzed.catalogueDir, 'stats.duckdb'));
  try {
    await catalogue.update(storeHistory(store));
    const cost = plan.cost as CostModel | undefined;
    const again = await planReplay({
      store,
      catalogue,
      app: loaded.app,
      appFile: loaded.file,
      appVersion: loaded.version,
      process: plan.process,
      since: plan.change.since,
      keys: plan.change.keys,
      workers: plan.workers,
      strategy,
      ...(cost === undefined ? {} : { costs: new Map([[plan.process, cost]]) }),
    });
    return checkPlan(again, `${planPath} (planned again for --strategy ${strategy})`);
  } finally {
    catalogue.close();
  }
}

/** Scales the plan's cost model by measured / estimated and records it as a `replay` calibration. */
async function recordCost(catalogueDir: string, cost: CostModel | undefined, measured: MeasuredCost, out: Output): Promise<{ factor: number; nsPerEvent: number } | null> {
  if (cost === undefined || measured.estimatedCpuMs <= 0) return null;
  const factor = measured.actualMs / measured.estimatedCpuMs;
  const model: CostModel = {
    process: measured.process,
    nsPerEvent: cost.nsPerEvent * factor,
    nsPerByte: cost.nsPerByte * factor,
    nsPerSnapshotByte: cost.nsPerSnapshotByte * factor,
    nsPerSnapshot: cost.nsPerSnapshot * factor,
    nsPerShard: cost.nsPerShard * factor,
    nsPerReadEvent: (cost.nsPerReadEvent ?? 0) * factor,
    source: 'replay',
    samples: measured.events,
  };
  out.progress('recording the measured cost…');
  const catalogue = await StatsCatalogue.open(join(catalogueDir, 'stats.duckdb'));
  try {
    await catalogue.recordCalibration(model, measured.version, realClock.nowMs());
  } finally {
    catalogue.close();
  }
  return { factor: Math.round(factor * 1000) / 1000, nsPerEvent: Math.round(model.nsPerEvent) };
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

function printResult(out: Output, plan: PlanFile, r: ReplayRun, estimated: number | null, effects: boolean, recorded: { factor: number } | null): void {
  out.line(`replayed ${plan.process} (${plan.change.fromVersion ?? 'no output'} → ${plan.change.toVersion}) with ${r.strategy} in ${fmtMs(r.wallMs)}${estimated === null ? '' : ` (estimated ${fmtMs(estimated)})`}`);
  for (const p of r.processes) {
    out.line(
      `  ${p.process}@${p.version} → ${p.outputStream}: ${count(p.shards)} shards${p.resumedShards > 0 ? ` (${count(p.resumedShards)} from an earlier run)` : ''}, ${count(p.eventsRead)} events read, ${count(p.eventsWritten)} written, ${count(p.eventsShared)} shared with ${p.baseStream}, ${fmtMs(p.wallMs)}`,
    );
  }
  out.line(`events read ${count(r.eventsRead)}, written ${count(r.eventsWritten)}; ${count(r.suppressedEffects)} effects suppressed (never performed)`);
  if (effects) for (const e of r.effects) out.line(`  would have done ${e.gateway} ${JSON.stringify(e.request)} (${e.idempotencyKey}${e.changed ? ', new in this version' : ''})`);
  if (r.verify !== null) {
    const v = r.verify;
    if (v.verified) out.line(`verified: ${v.shardsCompared} of ${v.candidates} unaffected shards give the old output (${count(v.eventsCompared)} events)`);
    else {
      const d = v.firstDifference;
      out.line(`verified: false — shard ${d?.shard} differs at seq ${d?.seq}: old ${JSON.stringify(d?.expected)}, new ${JSON.stringify(d?.actual)}`);
    }
  }
  if (recorded !== null) out.line(`calibration recorded: actual/estimated = ${recorded.factor}`);
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
