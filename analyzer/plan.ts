/**
 * `planReplay`: given a store (with an up-to-date statistics catalogue), an app and a change to
 * one of its processes, estimates the four strategies, chooses one, and lists the downstream
 * shards that must follow. The result is the plan file `spive replay` executes.
 */
import type { AppDef, ProcessDef } from '../src/app/define.ts';
import { InvalidInputError } from '../src/model/errors.ts';
import { columnarFoldBlocker } from '../src/replay/columnar-fold.ts';
import { DEFAULT_ROUTE_POLICY } from '../src/replay/shard-inputs.ts';
import { isRoundShard } from '../src/runtime/runner.ts';
import type { EventStore } from '../src/store/event-store.ts';
import { realClock, type Clock } from '../src/time/clock.ts';
import type { StatsCatalogue } from './catalogue/catalogue.ts';
import { sqlString } from './duckdb.ts';
import { calibrate } from './cost/calibrate.ts';
import { nsPerHandledEvent, numberingMs, readWholeMs, scansBase, shardWriteNs, viewsMs, type Volume } from './cost/run-overheads.ts';
import { downstreamOf, findProcess, inputsOf, versionOf, type AnyProcess } from './graph.ts';
import { lineageOf, type ChangedStream } from './lineage.ts';
import { makespan } from './makespan.ts';
import { shardWork, type ShardSnapshot, type ShardWork } from './shard-work.ts';
import { adviseSnapshots } from './snapshot-advice-for.ts';
import { byCost, choose, estimate, notApplicable, rayTask, round, scratchTask, withReads, type ExtraWork, type StreamVolumes } from './strategies.ts';
import type { CostModel, DownstreamEstimate, ReplayPlan, ShardTask, StrategyEstimate, StrategyName } from './types.ts';

export interface PlanRequest {
  readonly store: EventStore;
  readonly catalogue: StatsCatalogue;
  readonly app: AppDef;
  /** The app module (recorded in the plan). */
  readonly appFile: string;
  /** The app's default process version (its source hash). */
  readonly appVersion: string;
  readonly process: string;
  /** Behaviour differs from this event time on (null: from the beginning, or nothing if the version is unchanged). */
  readonly since?: number | null;
  /** DuckDB SQL condition on `key` restricting the affected shards. */
  readonly keys?: string | null;
  readonly workers?: number;
  readonly clock?: Clock;
  /** Cost models to use instead of calibrating (benchmarks, tests), by process name. */
  readonly costs?: ReadonlyMap<string, CostModel>;
  /** Include snapshot cadence advice; `changeEveryMs` is the assumed mean event time between changes when the store shows none. */
  readonly adviseSnapshots?: { readonly changeEveryMs: number };
  /** Force this strategy instead of the cheapest (`spive replay --strategy`); it must be applicable. */
  readonly strategy?: StrategyName;
}

export async function planReplay(request: PlanRequest): Promise<ReplayPlan> {
  const { store, catalogue, app } = request;
  const workers = request.workers ?? 1;
  const clock = request.clock ?? realClock;
  const timings: Record<string, number> = {};
  let mark = clock.monotonicMs();
  const phase = (name: string) => {
    const now = clock.monotonicMs();
    timings[name] = Math.round((timings[name] ?? 0) + now - mark);
    mark = now;
  };
  const p = findProcess(app, request.process);
  const streams = new Map((await catalogue.streams()).map((s) => [s.stream, s]));
  checkGraph(app, p, streams, store.location);

  const versions = await catalogue.versions(p.output.name);
  const fromVersion = versions.length === 0 ? null : (versions[versions.length - 1]?.version ?? null);
  const toVersion = versionOf(p, request.appVersion);
  const inputStats = p.inputs.map((i) => streams.get(i.stream.name)).filter((s) => s !== undefined);
  const minTime = Math.min(...inputStats.map((s) => s.minTime ?? Number.POSITIVE_INFINITY));
  const maxTime = Math.max(...inputStats.map((s) => s.maxTime ?? Number.NEGATIVE_INFINITY));
  const since = request.since ?? null;
  if (since !== null && (since < minTime || since > maxTime)) {
    throw new InvalidInputError('--since', `a time within ${p.name}'s input history, ${iso(minTime)} .. ${iso(maxTime)}`, iso(since));
  }
  const keysExpr = request.keys ?? null;
  if (keysExpr !== null) await checkKeysExpr(catalogue, keysExpr);

  const costs = new Map(request.costs ?? []);
  const costOf = async (q: AnyProcess, sampleSize: number): Promise<CostModel> => {
    let c = costs.get(q.name);
    // Figures measured by real replays of this version beat a sample calibration.
    c ??= await catalogue.calibrationFor(q.name, versionOf(q, request.appVersion), 'replay');
    if (c === undefined) {
      c = await calibrate({ store, process: q, version: versionOf(q, request.appVersion), sampleSize, ...(request.clock === undefined ? {} : { clock: request.clock }) });
      costs.set(q.name, c);
    }
    return c;
  };
  phase('catalogue');
  const cost = await costOf(p, 2000);
  phase('calibration');

  // ---- the changed process, per shard
  const snapshots = since === null || fromVersion === null ? new Map<string, ShardSnapshot>() : await usableSnapshots(store, p.name, fromVersion, since);
  phase('snapshots');
  const work = await shardWork(catalogue, { process: p, since, keysExpr, keySet: null, snapshots });
  phase('shards');
  const affected = work.shards.filter((s) => s.affected);
  // Position of each affected shard in `affected`, by its position in `work.shards`.
  const affectedIndex: number[] = [];
  let nextAffected = 0;
  work.shards.forEach((s, i) => {
    if (s.affected) affectedIndex[i] = nextAffected++;
  });
  if (keysExpr !== null && affected.length === 0) {
    throw new InvalidInputError('--keys', `a condition matching at least one shard of ${p.name} with inputs${since === null ? '' : ` since ${iso(since)}`} (it matches none of ${work.shards.length})`, keysExpr);
  }

  // ---- downstream, by lineage (and wholesale, for full rebuild)
  const downstream = await planDownstream(request, p, new Set(affected.map((s) => s.key)), since, workers, costOf);
  phase('downstream');
  const scan = scanWork(catalogue, work.scans, cost);
  const scanned = await scan(since === null ? null : minSnapshotTime(affected, since));
  const scannedAll = await scan(null);
  const fixedMs = (await catalogue.replayFixedMs()) ?? null;
  // Before any real run measured it, the run's fixed cost is estimated from the engine's steps:
  // numbering the inputs, and the downstream processes' version views (run-overheads.ts).
  const volumes = await streamVolumes(catalogue, p);
  const fixedEstimate = fixedMs ?? numberingMs(cost, volumes.inputEvents + scannedAll.scanEvents) + downstream.fixedMs;
  const extra: ExtraWork = { ...scanned, downstream: downstream.lineage, fixedMs: fixedEstimate };
  const extraAll: ExtraWork = { ...scannedAll, downstream: downstream.all, fixedMs: fixedEstimate };

  const counted = work.counting === 'output-lineage' ? ` (inputs per shard counted from ${p.output.name}'s lineage: ${p.name} re-keys ${work.scans.map((s) => s.stream).join(', ')})` : '';
  // Each shard's two ways, computed once; the strategies pick among them.
  const scratchAlone = affected.map((s) => scratchTask(cost, s));
  const raysAlone = affected.map((s, i) => (s.snapshot === null ? (scratchAlone[i] as ShardTask) : rayTask(cost, s)));
  const mixedAlone = raysAlone.map((r, i) => (r.cpuMs < (scratchAlone[i] as ShardTask).cpuMs ? r : (scratchAlone[i] as ShardTask)));
  const fromRay = mixedAlone.filter((t) => t.mode === 'ray').length;
  // How the engine will read each strategy's tasks (scan once, or per shard): see withReads.
  const columnar = columnarFoldBlocker(p as ProcessDef<unknown>) === null;
  const held = affected.map((s) => s.events);
  const reading = (tasks: readonly ShardTask[], heldEvents: readonly number[]) => withReads(cost, tasks, heldEvents, volumes, DEFAULT_ROUTE_POLICY, columnar);
  const scratch = reading(scratchAlone, held);
  const rays = reading(raysAlone, held);
  const mixed = reading(mixedAlone, held);
  const rows = [
    estimate('shards-from-scratch', scratch, extra, workers, `${affected.length} of ${work.shards.length} shards${since === null ? '' : ` have inputs since ${iso(since)}`}${counted}`),
    await rayStrategy(store, p.name, since, fromVersion, snapshots, affected, rays, extra, workers),
    fromRay === 0
      ? notApplicable('per-shard-mix', snapshots.size === 0 ? 'no affected shard has a usable snapshot, so every shard would replay from scratch (that is shards-from-scratch)' : 'every shard is cheaper from scratch (that is shards-from-scratch)')
      : estimate('per-shard-mix', mixed, extra, workers, `${fromRay} shards from a snapshot, ${mixed.length - fromRay} from scratch`),
    estimate('full-rebuild', reading(work.shards.map((s, i) => (s.affected ? (scratchAlone[affectedIndex[i] as number] as ShardTask) : scratchTask(cost, s))), work.shards.map((s) => s.events)), extraAll, workers, `every shard of ${p.name} and of its ${downstream.processes.length} downstream processes from the beginning`),
  ];
  const unchanged = since === null && fromVersion === toVersion;
  const chosenRow = unchanged ? undefined : request.strategy === undefined ? choose(rows.map((r) => r.estimate)) : forced(rows.map((r) => r.estimate), request.strategy);
  const chosen = chosenRow === undefined ? null : rows.find((r) => r.estimate.name === chosenRow.name);
  const stats = await catalogue.streams();
  phase('strategies');
  const plan: ReplayPlan = {
    format: 'spive-replay-plan',
    formatVersion: 1,
    store: store.location,
    app: request.appFile,
    process: p.name,
    output: p.output.name,
    change: { process: p.name, fromVersion, toVersion, since, keys: keysExpr },
    workers,
    strategies: rows.map((r) => r.estimate),
    chosen: chosen?.estimate.name ?? null,
    why: unchanged
      ? `${p.name}'s version in the app (${toVersion}) is the one that wrote ${p.output.name}: nothing needs replaying. Give --since T if its behaviour changed without a version change.`
      : whyChosen(chosen?.estimate, rows.map((r) => r.estimate)),
    tasks: byCost(chosen?.tasks ?? []),
    downstream: downstream.rows,
    cost,
    fixedMs: fixedMs === null ? null : round(fixedMs),
    stats: {
      lastPosition: Math.max(0, ...stats.map((s) => s.lastPosition)),
      events: stats.reduce((n, s) => n + s.events, 0),
      minTime: finiteOrNull(Math.min(...stats.map((s) => s.minTime ?? Number.POSITIVE_INFINITY))),
      maxTime: finiteOrNull(Math.max(...stats.map((s) => s.maxTime ?? Number.NEGATIVE_INFINITY))),
    },
    timings,
  };
  if (request.adviseSnapshots === undefined) return plan;
  const advice = [];
  for (const q of [p, ...downstreamOf(app, p)]) {
    advice.push(await adviseSnapshots({ store, catalogue, process: q, cost: await costOf(q, 500), changeEveryMs: request.adviseSnapshots.changeEveryMs }));
  }
  return { ...plan, advice };
}

function forced(rows: readonly StrategyEstimate[], name: StrategyName): StrategyEstimate {
  const row = rows.find((r) => r.name === name) as StrategyEstimate;
  if (!row.applicable) throw new InvalidInputError('--strategy', `a strategy that applies to this change (${name} does not: ${row.reason})`, name);
  return row;
}

function checkGraph(app: AppDef, p: AnyProcess, streams: ReadonlyMap<string, unknown>, location: string): void {
  const held = [...streams.keys()].sort();
  for (const input of p.inputs) {
    if (!streams.has(input.stream.name)) {
      throw new InvalidInputError(
        '--app',
        `an app whose streams match the store: ${app.name}'s process ${p.name} reads '${input.stream.name}', which the store at ${location} does not hold (it holds: ${held.join(', ') || 'nothing'})`,
      );
    }
  }
}

async function checkKeysExpr(catalogue: StatsCatalogue, expr: string): Promise<void> {
  try {
    await catalogue.db.rows(`SELECT count(*) AS n FROM (SELECT 'k' AS key) WHERE (${expr})`);
  } catch (e) {
    const detail = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw new InvalidInputError('--keys', `a DuckDB SQL condition on key, such as "key IN ('a', 'b')" or "key LIKE 'acct-1%'" (${detail})`, expr);
  }
}

/** Per shard, the newest snapshot by `version` taken at or before `since`. */
async function usableSnapshots(store: EventStore, process: string, version: string, since: number): Promise<Map<string, ShardSnapshot>> {
  const best = new Map<string, ShardSnapshot>();
  for (const s of await store.listSnapshots({ process, version, maxTime: since, newestPerShard: true })) {
    if (isRoundShard(s.shard)) continue;
    const known = best.get(s.shard);
    if (known === undefined || s.position > known.position) best.set(s.shard, { version: s.version, position: s.position, time: s.time, sizeBytes: s.sizeBytes });
  }
  return best;
}

async function rayStrategy(
  store: EventStore,
  process: string,
  since: number | null,
  fromVersion: string | null,
  usable: ReadonlyMap<string, ShardSnapshot>,
  affected: readonly ShardWork[],
  rays: ShardTask[],
  extra: ExtraWork,
  workers: number,
) {
  const name = 'time-ray-from-snapshot' as const;
  if (since === null) return notApplicable(name, 'the change starts at the beginning (no --since), so no snapshot predates it');
  if (usable.size === 0) {
    // Say why: no snapshots at all, none by the version whose output is valid, or none early enough.
    const own = (await store.listSnapshots({ process, newestPerShard: true })).filter((s) => !isRoundShard(s.shard));
    if (own.length === 0) return notApplicable(name, 'the store holds no snapshots of this process');
    if (own.every((s) => s.version !== fromVersion)) return notApplicable(name, `no snapshot was made by ${fromVersion ?? 'the version that wrote the output'} (snapshots of other versions cannot be trusted)`);
    return notApplicable(name, `no snapshot was taken at or before ${iso(since)}`);
  }
  const without = affected.filter((s) => s.snapshot === null).length;
  return estimate(
    name,
    rays,
    extra,
    workers,
    without === 0 ? `every affected shard restores its newest snapshot at or before ${iso(since)}` : `${without} of ${affected.length} affected shards have no snapshot at or before ${iso(since)} and replay from the beginning`,
  );
}

function minSnapshotTime(affected: readonly ShardWork[], since: number): number {
  let min = since;
  for (const s of affected) min = Math.min(min, s.snapshot?.time ?? Number.NEGATIVE_INFINITY);
  return min;
}

/** Events and payload bytes of a process's inputs and of its output, from the catalogue's per-key totals. */
async function streamVolumes(catalogue: StatsCatalogue, p: AnyProcess): Promise<StreamVolumes> {
  const sum = async (streams: readonly string[]) => {
    if (streams.length === 0) return { events: 0, bytes: 0 };
    const [row] = await catalogue.db.rows<{ events: number | null; bytes: number | null }>(
      `SELECT sum(events) AS events, sum(bytes) AS bytes FROM key_totals WHERE stream IN (${streams.map(sqlString).join(', ')})`,
    );
    return { events: row?.events ?? 0, bytes: row?.bytes ?? 0 };
  };
  // Re-keyed inputs are always scanned (scanWork); these are the inputs read as stored.
  const input = await sum(inputsOf(p).filter((i) => !i.rekeyed).map((i) => i.stream));
  const base = await sum([p.output.name]);
  return { inputEvents: input.events, inputBytes: input.bytes, baseEvents: base.events, baseBytes: base.bytes };
}

/** Events, payload bytes and shards of one stream, from the catalogue's per-key totals. */
async function outputVolume(catalogue: StatsCatalogue, stream: string): Promise<Volume & { shards: number }> {
  const [row] = await catalogue.db.rows<{ events: number | null; bytes: number | null; shards: number | bigint | null }>(
    `SELECT sum(events) AS events, sum(bytes) AS bytes, count(DISTINCT key) AS shards FROM key_totals WHERE stream = ${sqlString(stream)}`,
  );
  return { events: row?.events ?? 0, bytes: row?.bytes ?? 0, shards: Number(row?.shards ?? 0) };
}

/** Events and payload bytes of some streams together. */
async function volumeOf(catalogue: StatsCatalogue, streams: readonly string[]): Promise<Volume> {
  if (streams.length === 0) return { events: 0, bytes: 0 };
  const [row] = await catalogue.db.rows<{ events: number | null; bytes: number | null }>(
    `SELECT sum(events) AS events, sum(bytes) AS bytes FROM key_totals WHERE stream IN (${streams.map(sqlString).join(', ')})`,
  );
  return { events: row?.events ?? 0, bytes: row?.bytes ?? 0 };
}

/** Scanning re-keyed inputs from a time on: every event of those streams must be read and routed. */
function scanWork(catalogue: StatsCatalogue, scans: ReadonlyArray<{ stream: string }>, cost: CostModel) {
  return async (from: number | null) => {
    let events = 0;
    let bytes = 0;
    for (const { stream } of scans) {
      const [row] = await catalogue.db.rows<{ events: number | null; bytes: number | null }>(
        `SELECT sum(events) AS events, sum(bytes) AS bytes FROM buckets WHERE stream = ${sqlString(stream)}${from === null || !Number.isFinite(from) ? '' : ` AND max_time >= ${from}`}`,
      );
      events += row?.events ?? 0;
      bytes += row?.bytes ?? 0;
    }
    // Routing an event decodes its payload for the key function: the per-byte cost, not the handler's.
    return { scanEvents: events, scanBytes: bytes, scanCpuMs: (bytes * cost.nsPerByte) / 1e6 };
  };
}

interface DownstreamPlan {
  readonly rows: DownstreamEstimate[];
  readonly processes: AnyProcess[];
  readonly lineage: ExtraWork['downstream'];
  readonly all: ExtraWork['downstream'];
  /** Version views and routing of re-keyed view inputs (outside the processes' shard work): part of a run's fixed cost. */
  readonly fixedMs: number;
}

async function planDownstream(
  request: PlanRequest,
  p: AnyProcess,
  affectedKeys: ReadonlySet<string>,
  since: number | null,
  workers: number,
  costOf: (q: AnyProcess, sampleSize: number) => Promise<CostModel>,
): Promise<DownstreamPlan> {
  const { store, catalogue, app } = request;
  const processes = downstreamOf(app, p);
  const changed = new Map<string, ChangedStream>([[p.output.name, { stream: p.output.name, keys: affectedKeys, since }]]);
  const rows: DownstreamEstimate[] = [];
  const sum = { shards: 0, events: 0, bytes: 0, snapshotBytes: 0, cpuMs: 0, wallMs: 0 };
  const all = { shards: 0, events: 0, bytes: 0, snapshotBytes: 0, cpuMs: 0, wallMs: 0 };
  let fixedMs = 0;
  const viewed = new Set<string>(); // the engine builds each stream's version view once per run
  for (const d of processes) {
    const lineage = await lineageOf(store, catalogue, d, changed);
    if (lineage === undefined) continue;
    const cost = await costOf(d, 2000); // as many events as the changed process: fewer make a noisy figure (a few ms timed)
    // The engine rebuilds a downstream shard from scratch (no snapshot: src/replay/engine.ts).
    const work = await shardWork(catalogue, { process: d, since, keysExpr: null, keySet: lineage.keys === 'all' ? null : lineage.keys, snapshots: new Map() });
    const followers = work.shards.filter((s) => s.affected);
    const dInputs = inputsOf(d);
    const views = dInputs.filter((i) => changed.has(i.stream));
    const fromViews = views.length === dInputs.length;
    const base = await outputVolume(catalogue, d.output.name);
    const inputEvents = work.shards.reduce((n, s) => n + s.events, 0);
    const dVolumes = fromViews ? undefined : await streamVolumes(catalogue, d);
    // The shards' tasks, and what the process's run does once (not split over workers): a scan of its old output.
    const costed = (shards: readonly ShardWork[]): { tasks: ShardTask[]; serialMs: number } => {
      if (dVolumes !== undefined) return { tasks: withReads(cost, shards.map((s) => scratchTask(cost, s)), shards.map((s) => s.events), dVolumes, DEFAULT_ROUTE_POLICY, false), serialMs: 0 };
      // Inputs from version views, in memory: per event only the handler; the views' reading is paid once (below).
      const scanned = scansBase(DEFAULT_ROUTE_POLICY, shards.length, base);
      const basePerInput = inputEvents > 0 ? base.events / inputEvents : 0;
      const baseReadNs = base.events > 0 ? (cost.nsPerReadEvent ?? 0) + (base.bytes / base.events) * cost.nsPerByte : 0;
      const tasks = shards.map((s) => {
        const baseNs = scanned ? 0 : cost.nsPerShard + s.events * basePerInput * baseReadNs;
        return { ...scratchTask(cost, s), cpuMs: (s.events * nsPerHandledEvent(cost) + baseNs + shardWriteNs(cost)) / 1e6 };
      });
      return { tasks, serialMs: scanned && shards.length > 0 ? readWholeMs(cost, base) : 0 };
    };
    const { tasks, serialMs } = costed(followers);
    if (followers.length > 0) {
      const fresh = views.filter((i) => !viewed.has(i.stream));
      for (const i of fresh) viewed.add(i.stream);
      const read = await volumeOf(catalogue, fresh.map((i) => i.stream));
      const routed = await volumeOf(catalogue, views.filter((i) => i.rekeyed).map((i) => i.stream));
      fixedMs += viewsMs(cost, read, routed.events);
    }
    const cpu = tasks.reduce((n, t) => n + t.cpuMs, 0) + serialMs;
    const wall = makespan(tasks.map((t) => t.cpuMs), workers).wallMs + serialMs;
    rows.push({
      process: d.name,
      output: d.output.name,
      via: lineage.via,
      lineage: lineage.keys === 'all' ? 'all' : 'exact',
      reason: lineage.reason,
      shards: followers.length,
      sampleKeys: followers.map((s) => s.key).sort().slice(0, 20),
      eventsToRead: tasks.reduce((n, t) => n + t.events, 0),
      estimatedCpuMs: round(cpu),
      estimatedWallMs: round(wall),
      cost,
      version: versionOf(d, request.appVersion),
    });
    sum.shards += followers.length;
    sum.events += tasks.reduce((n, t) => n + t.events, 0);
    sum.bytes += tasks.reduce((n, t) => n + t.bytes, 0);
    sum.cpuMs += cpu;
    sum.wallMs += wall;
    const everything = costed(work.shards);
    all.shards += work.shards.length;
    all.events += work.shards.reduce((n, s) => n + s.events, 0);
    all.bytes += work.shards.reduce((n, s) => n + s.bytes, 0);
    all.cpuMs += everything.tasks.reduce((n, t) => n + t.cpuMs, 0) + everything.serialMs;
    all.wallMs += makespan(everything.tasks.map((t) => t.cpuMs), workers).wallMs + everything.serialMs;
    changed.set(d.output.name, { stream: d.output.name, keys: new Set(followers.map((s) => s.key)), since });
  }
  return { rows, processes, lineage: sum, all, fixedMs };
}

function whyChosen(chosen: StrategyEstimate | undefined, rows: readonly StrategyEstimate[]): string {
  if (chosen === undefined) return 'no strategy applies';
  const others = rows.filter((r) => r.applicable && r.name !== chosen.name).map((r) => `${r.name} ${fmtMs(r.estimatedWallMs)}`);
  return `${chosen.name} has the lowest estimated wall time (${fmtMs(chosen.estimatedWallMs)}${others.length > 0 ? `; ${others.join(', ')}` : ''})`;
}

export function fmtMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
