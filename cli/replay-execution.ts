/**
 * Executing a replay plan on an open store, as `spive replay` does it itself or hands it to the
 * `spive run` that holds the store (cli/replay-service.ts): load the plan's app and check its
 * version, plan again for a forced strategy, run the engine, record the measured cost. The outcome
 * is the command's JSON result, so that both paths print the same thing.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { StatsCatalogue } from '../analyzer/catalogue/catalogue.ts';
import { storeHistory } from '../analyzer/catalogue/store-source.ts';
import { planReplay } from '../analyzer/plan.ts';
import { scaledEngineFigures } from '../analyzer/cost/engine-figures.ts';
import type { CostModel, StrategyName } from '../analyzer/types.ts';
import { loadApp, type LoadedApp } from '../src/app/load-app.ts';
import { realRandom } from '../src/random/real-random.ts';
import { processVersion, runReplay, type ReplayRun } from '../src/replay/engine.ts';
import { checkPlan, jobOf, type PlanFile } from '../src/replay/plan-file.ts';
import type { ProcessReport, ReplayProgress, SuppressedEffect, VerifyReport } from '../src/replay/types.ts';
import { PostgresTaskClaims } from '../src/store/postgres/replay-claims.ts';
import { realClock } from '../src/time/clock.ts';
import { realTimers } from '../src/time/timers.ts';
import { exportForAnalysis, type AnalyzedStore } from './analyzed-store.ts';
import type { SwitchOverResult } from '../src/runtime/switch-over.ts';
import { UsageError } from './exit-codes.ts';

/** What to execute: the plan and the options of `spive replay` that shape the run. */
export interface ReplayRequest {
  readonly plan: PlanFile;
  /** Where the plan came from, for messages. */
  readonly planPath: string;
  readonly strategy?: StrategyName;
  /** Shards outside the affected set compared with the old output (false: no verification). */
  readonly verify: number | false;
  readonly effects: boolean;
  readonly concurrency: number;
  readonly workers: number;
  /** `--workers-from`: share the shard tasks through this PostgreSQL database. */
  readonly workersFrom?: string;
  /**
   * `--switch`: make the new version current once it is built (src/runtime/switch-over.ts). The
   * replay then rebuilds the changed process only; the switch-over rebuilds its downstream.
   */
  readonly switchOver?: boolean;
}

/** The result `spive replay --json` prints (and the running instance returns for a handed-over plan). */
export interface ReplayResult {
  readonly process: string;
  readonly fromVersion: string | null;
  readonly toVersion: string;
  readonly strategy: string;
  readonly eventsRead: number;
  readonly actualWallMs: number;
  readonly estimatedWallMs: number | null;
  readonly verified: boolean | null;
  readonly shards: number;
  readonly eventsWritten: number;
  readonly suppressedEffects: number;
  readonly effects?: readonly SuppressedEffect[];
  readonly outputStream: string;
  readonly resumedShards: number;
  readonly workers: number;
  readonly processes: readonly ProcessReport[];
  readonly verify: VerifyReport | null;
  readonly calibration: { readonly factor: number; readonly nsPerEvent: number; readonly fixedMs: number } | null;
  /** Who executed it: this command, or the `spive run` holding the store (its endpoint). */
  readonly executedBy: string;
  /** With --switch: the switch-over (null: none asked for). */
  readonly switchOver: SwitchOverResult | null;
}

export interface ReplayHooks {
  readonly progress: (p: ReplayProgress) => void;
  /** Short notes on what is happening (opening, planning, recording). */
  readonly step: (message: string) => void;
  readonly warn: (message: string) => void;
}

/** The plan's app, checked against the plan: the process still exists and has the version the plan rebuilds. */
export async function loadPlannedApp(plan: PlanFile, planPath: string): Promise<LoadedApp> {
  const loaded = await loadApp(plan.app);
  const p = loaded.app.processes.find((q) => q.name === plan.process);
  if (p === undefined) throw new UsageError(`${planPath}: process: ${plan.process} is not a process of ${loaded.file} any more (it has ${loaded.app.processes.map((q) => q.name).join(', ')}); the app changed since planning — run spive replay-plan again`);
  const current = processVersion(p, loaded.version);
  if (current !== plan.change.toVersion) {
    throw new UsageError(
      `${planPath}: change.toVersion: the plan rebuilds ${plan.process} as version ${plan.change.toVersion}, but ${loaded.file} now gives version ${current}: the app changed since planning — run spive replay-plan again`,
    );
  }
  return loaded;
}

/** `loaded`: the plan's app when the caller has already loaded and checked it (loadPlannedApp). */
export async function executeReplay(analyzed: AnalyzedStore, request: ReplayRequest, hooks: ReplayHooks, executedBy: string, loaded?: LoadedApp): Promise<ReplayResult> {
  const clock = realClock;
  const { store } = analyzed;
  loaded ??= await loadPlannedApp(request.plan, request.planPath);
  let plan = request.plan;
  if (request.strategy !== undefined && request.strategy !== plan.chosen && plan.chosen !== null) {
    hooks.step(`planning ${request.strategy}…`);
    plan = await replan(analyzed, plan, request.planPath, loaded, request.strategy);
  }
  // A switch-over rebuilds the downstream processes itself, live (switch-over.ts).
  const job = request.switchOver === true ? { ...jobOf(plan), downstream: [] } : jobOf(plan);
  // Every process of one distributed replay runs the same job: its hash names the shared tasks.
  const claims =
    request.workersFrom === undefined
      ? undefined
      : await PostgresTaskClaims.open(request.workersFrom, { job: `${job.process}@${job.toVersion}:${createHash('sha256').update(JSON.stringify(job)).digest('hex').slice(0, 16)}`, clock, timers: realTimers, random: realRandom() });
  const result = await runReplay({
    store,
    app: loaded.app,
    appVersion: loaded.version,
    job,
    clock,
    listEffects: request.effects,
    verify: request.verify,
    concurrency: request.concurrency,
    workers: request.workers,
    appFile: loaded.file,
    onProgress: hooks.progress,
    ...(claims === undefined ? {} : { claims }),
  }).finally(() => claims?.close());
  const calibration = await recordCosts(analyzed.catalogueDir, plan, result, hooks).catch((e: unknown) => {
    hooks.warn(`could not record the measured cost in the catalogue: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  });
  return {
    process: plan.process,
    fromVersion: plan.change.fromVersion,
    toVersion: plan.change.toVersion,
    strategy: job.strategy,
    eventsRead: result.eventsRead,
    actualWallMs: result.wallMs,
    estimatedWallMs: plan.strategies.find((s) => s.name === job.strategy)?.estimatedWallMs ?? null,
    verified: result.verify === null ? null : result.verify.verified,
    shards: result.shards,
    eventsWritten: result.eventsWritten,
    suppressedEffects: result.suppressedEffects,
    ...(request.effects ? { effects: result.effects } : {}),
    outputStream: result.outputStream,
    resumedShards: result.resumedShards,
    workers: request.workers,
    processes: result.processes,
    verify: result.verify,
    calibration,
    executedBy,
    switchOver: null,
  };
}

/** The plan's request again, with the strategy forced (same change, same cost model for the process). */
async function replan(analyzed: AnalyzedStore, plan: PlanFile, planPath: string, loaded: LoadedApp, strategy: StrategyName): Promise<PlanFile> {
  const store = analyzed.store;
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

/**
 * Records what the run measured, so that the next plan of these versions is calibrated by a real run:
 * the changed process's cost model scaled by measured / estimated (its shards that ran); each
 * downstream process's, scaled by its measured / estimated time per event read; and the run's fixed
 * cost (its wall time beyond its processes'), which every strategy pays.
 */
async function recordCosts(catalogueDir: string, plan: PlanFile, result: ReplayRun, hooks: ReplayHooks): Promise<{ factor: number; nsPerEvent: number; fixedMs: number } | null> {
  const cost = plan.cost as CostModel | undefined;
  const measured = result.measured;
  if (cost === undefined || measured === null || measured.estimatedCpuMs <= 0) return null;
  const factor = measured.actualMs / measured.estimatedCpuMs;
  const models: Array<{ model: CostModel; version: string }> = [{ model: scaled(cost, factor, measured.events), version: measured.version }];
  for (const report of result.processes.slice(1)) {
    const planned = plan.downstream.find((d) => d.process === report.process);
    const base = planned?.cost as CostModel | undefined;
    if (planned === undefined || base === undefined || !((planned.eventsToRead ?? 0) > 0) || !((planned.estimatedCpuMs ?? 0) > 0) || report.eventsRead === 0) continue;
    // Time over estimated time, as for the changed process: per event read would not compare like with
    // like (the run counts each routed view event once, the plan each shard's inputs, a payer-and-payee
    // event twice).
    const measuredOverEstimated = report.wallMs / (planned.estimatedCpuMs as number);
    models.push({ model: scaled(base, measuredOverEstimated, report.eventsRead), version: planned.version ?? report.version });
  }
  // Beyond the changed process's measured time (its inputs' reading included, scaled into its model
  // above) and the downstream processes' runs: their version views and routing.
  const fixedMs = Math.max(0, result.wallMs - measured.actualMs - result.processes.slice(1).reduce((n, p) => n + p.wallMs, 0));
  hooks.step('recording the measured cost…');
  const catalogue = await StatsCatalogue.open(join(catalogueDir, 'stats.duckdb'));
  try {
    const now = realClock.nowMs();
    for (const { model, version } of models) await catalogue.recordCalibration(model, version, now);
    await catalogue.recordReplayFixedMs(fixedMs, now);
  } finally {
    catalogue.close();
  }
  return { factor: Math.round(factor * 1000) / 1000, nsPerEvent: Math.round((models[0] as { model: CostModel }).model.nsPerEvent), fixedMs: Math.round(fixedMs) };
}

function scaled(cost: CostModel, factor: number, samples: number): CostModel {
  return {
    process: cost.process,
    ...scaledEngineFigures(cost, factor),
    nsPerEvent: cost.nsPerEvent * factor,
    nsPerByte: cost.nsPerByte * factor,
    nsPerSnapshotByte: cost.nsPerSnapshotByte * factor,
    nsPerSnapshot: cost.nsPerSnapshot * factor,
    nsPerShard: cost.nsPerShard * factor,
    nsPerReadEvent: (cost.nsPerReadEvent ?? 0) * factor,
    source: 'replay',
    samples,
  };
}
