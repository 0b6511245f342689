/**
 * The four strategies of DESIGN.md §4, estimated from per-shard work and a cost model. Each row
 * covers the changed process and the downstream work that follows it, so that full rebuild (which
 * also rebuilds every downstream shard) is compared on equal terms.
 */
import type { RoutePolicy } from '../src/replay/shard-inputs.ts';
import { shardWriteNs } from './cost/run-overheads.ts';
import { makespan } from './makespan.ts';
import type { ShardWork } from './shard-work.ts';
import type { CostModel, ShardTask, StrategyEstimate, StrategyName } from './types.ts';

/** Work that comes on top of the shard tasks: re-keyed input scans and downstream processes. */
export interface ExtraWork {
  /** Events and bytes a replay scans to route re-keyed inputs (read once, split across workers). */
  readonly scanEvents: number;
  readonly scanBytes: number;
  readonly scanCpuMs: number;
  /** Downstream processes (by lineage; for full rebuild: all their shards). */
  readonly downstream: { readonly shards: number; readonly events: number; readonly bytes: number; readonly snapshotBytes: number; readonly cpuMs: number; readonly wallMs: number };
  /** A replay run's fixed cost on this store, measured by a real one (0 before any). */
  readonly fixedMs: number;
}

export function taskCpuMs(cost: CostModel, events: number, bytes: number, snapshotBytes: number, snapshots = 0): number {
  return (events * cost.nsPerEvent + bytes * cost.nsPerByte + snapshotBytes * cost.nsPerSnapshotByte + snapshots * cost.nsPerSnapshot + cost.nsPerShard) / 1e6;
}

export function scratchTask(cost: CostModel, s: ShardWork): ShardTask {
  return { key: s.key, mode: 'scratch', fromTime: null, events: s.events, bytes: s.bytes, cpuMs: taskCpuMs(cost, s.events, s.bytes, 0) };
}

export function rayTask(cost: CostModel, s: ShardWork): ShardTask {
  const snap = s.snapshot;
  if (snap === null) return scratchTask(cost, s);
  return { key: s.key, mode: 'ray', snapshot: snap, fromTime: snap.time, events: s.rayEvents, bytes: s.rayBytes, cpuMs: taskCpuMs(cost, s.rayEvents, s.rayBytes, snap.sizeBytes, 1) };
}

export function cheaperTask(cost: CostModel, s: ShardWork): ShardTask {
  const scratch = scratchTask(cost, s);
  if (s.snapshot === null) return scratch;
  const ray = rayTask(cost, s);
  return ray.cpuMs < scratch.cpuMs ? ray : scratch;
}

export interface Estimated {
  readonly estimate: StrategyEstimate;
  readonly tasks: ShardTask[];
}

/** One strategy's row: its shard tasks' totals plus the extra work, wall time by LPT makespan. */
export function estimate(name: StrategyName, tasks: ShardTask[], extra: ExtraWork, workers: number, reason: string | null): Estimated {
  let events = extra.scanEvents + extra.downstream.events;
  let bytes = extra.scanBytes + extra.downstream.bytes;
  let snapshotBytes = extra.downstream.snapshotBytes;
  let cpu = extra.scanCpuMs + extra.downstream.cpuMs;
  const costs = new Float64Array(tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i] as ShardTask;
    events += t.events;
    bytes += t.bytes;
    snapshotBytes += t.snapshot?.sizeBytes ?? 0;
    cpu += t.cpuMs;
    costs[i] = t.cpuMs;
  }
  // The scan is split across workers; downstream starts once its upstream shards are rebuilt.
  const wall = makespan(costs, workers).wallMs + extra.scanCpuMs / workers + extra.downstream.wallMs + extra.fixedMs;
  return {
    tasks,
    estimate: {
      name,
      applicable: true,
      reason,
      shards: tasks.length + extra.downstream.shards,
      eventsToRead: Math.round(events),
      bytesToRead: Math.round(bytes),
      snapshotBytes: Math.round(snapshotBytes),
      estimatedCpuMs: round(cpu),
      estimatedWallMs: round(wall),
    },
  };
}

/** Tasks in the order the replay engine hands them out: most expensive first (LPT), then by key. */
export function byCost(tasks: readonly ShardTask[]): ShardTask[] {
  return [...tasks].sort((a, b) => b.cpuMs - a.cpuMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function notApplicable(name: StrategyName, reason: string): Estimated {
  return { tasks: [], estimate: { name, applicable: false, reason, shards: 0, eventsToRead: 0, bytesToRead: 0, snapshotBytes: 0, estimatedCpuMs: 0, estimatedWallMs: 0 } };
}

/** When two strategies cost the same, the simpler one wins (a mix that picked rays everywhere is a time ray). */
const SIMPLICITY: readonly StrategyName[] = ['time-ray-from-snapshot', 'shards-from-scratch', 'per-shard-mix', 'full-rebuild'];
/** A per-shard mix must save more than this fraction of wall time over a pure strategy to be worth it. */
export const MIX_MARGIN = 0.01;

export function choose(rows: readonly StrategyEstimate[]): StrategyEstimate | undefined {
  const applicable = rows.filter((r) => r.applicable);
  applicable.sort((a, b) => a.estimatedWallMs - b.estimatedWallMs || a.eventsToRead - b.eventsToRead || SIMPLICITY.indexOf(a.name) - SIMPLICITY.indexOf(b.name));
  const best = applicable[0];
  if (best?.name !== 'per-shard-mix') return best;
  const pure = applicable.find((r) => (r.name === 'time-ray-from-snapshot' || r.name === 'shards-from-scratch') && r.estimatedWallMs <= best.estimatedWallMs * (1 + MIX_MARGIN));
  return pure ?? best;
}

export function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The events and payload bytes a replay could scan whole: the process's inputs read as stored, and its old output. */
export interface StreamVolumes {
  readonly inputEvents: number;
  readonly inputBytes: number;
  readonly baseEvents: number;
  readonly baseBytes: number;
}

/**
 * The tasks' costs as the replay engine will read them (src/replay/shard-inputs.ts, base-shards.ts).
 * When the tasks' shards hold much of a large input (`policy`, the engine's own rule), the engine scans
 * the inputs and the old output once, in order: each task then pays its handlers (and snapshot), and
 * the scan — every event of those streams read once — is shared out over the tasks by their events.
 * Otherwise each shard is read on its own: its inputs (as `cpuMs` counts them) and its old output
 * (estimated at the streams' output-per-input ratio), each a separate shard read. `held[i]` is all
 * events of task i's shard (what the engine's rule counts). Columnar folds (`columnar`) keep `cpuMs`.
 * Either way every task then writes: its fork record appended (shardWriteNs).
 */
export function withReads(cost: CostModel, tasks: readonly ShardTask[], held: readonly number[], v: StreamVolumes, policy: RoutePolicy, columnar: boolean): ShardTask[] {
  const writeMs = shardWriteNs(cost) / 1e6;
  return readsOf(cost, tasks, held, v, policy, columnar).map((t) => (writeMs === 0 ? t : { ...t, cpuMs: t.cpuMs + writeMs }));
}

function readsOf(cost: CostModel, tasks: readonly ShardTask[], held: readonly number[], v: StreamVolumes, policy: RoutePolicy, columnar: boolean): ShardTask[] {
  if (columnar || tasks.length === 0) return [...tasks];
  const readNs = cost.nsPerReadEvent ?? 0;
  const heldTotal = held.reduce((n, e) => n + e, 0);
  const scanned = v.inputEvents >= policy.minEvents && heldTotal >= policy.minShare * v.inputEvents && heldTotal <= policy.maxEvents;
  const outPerIn = v.inputEvents > 0 ? v.baseEvents / v.inputEvents : 0;
  const bytesPerOut = v.baseEvents > 0 ? v.baseBytes / v.baseEvents : 0;
  if (!scanned) {
    return tasks.map((t, i) => {
      const baseEvents = (held[i] ?? 0) * outPerIn;
      return { ...t, cpuMs: t.cpuMs + (cost.nsPerShard + baseEvents * (readNs + bytesPerOut * cost.nsPerByte)) / 1e6 };
    });
  }
  const scanMs = ((v.inputEvents + v.baseEvents) * readNs + (v.inputBytes + v.baseBytes) * cost.nsPerByte) / 1e6;
  const weight = tasks.reduce((n, t) => n + Math.max(1, t.events), 0);
  return tasks.map((t) => {
    const handlerNs = t.events * Math.max(0, cost.nsPerEvent - readNs);
    // A fixed cost per task besides (its fork record read and written): about one small record fetch.
    const snapshotNs = t.snapshot === undefined ? 0 : t.snapshot.sizeBytes * cost.nsPerSnapshotByte + cost.nsPerSnapshot;
    return { ...t, cpuMs: (handlerNs + snapshotNs + cost.nsPerSnapshot) / 1e6 + (scanMs * Math.max(1, t.events)) / weight };
  });
}
