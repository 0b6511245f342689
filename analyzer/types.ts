/**
 * The replay planner's vocabulary (DESIGN.md §4): a change to one process, the four ways to rebuild
 * its output, what each would cost, and the plan the replay engine executes.
 */

/** The four strategies of DESIGN.md §4, by their contract names. */
export const STRATEGY_NAMES = ['shards-from-scratch', 'time-ray-from-snapshot', 'per-shard-mix', 'full-rebuild'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** What changed: process P gets a new version whose behaviour differs for events with time ≥ since. */
export interface ReplayChange {
  readonly process: string;
  /** The version recorded in the store for P's output (null: P has written nothing yet). */
  readonly fromVersion: string | null;
  /** The version of P in the app being planned for. */
  readonly toVersion: string;
  /** Event time (ms) from which behaviour differs; null = from the beginning. */
  readonly since: number | null;
  /** A DuckDB SQL boolean expression over `key` restricting the affected shards, or null for all. */
  readonly keys: string | null;
}

/** How one shard of the changed process is rebuilt. */
export interface ShardTask {
  readonly key: string;
  /** `scratch`: all its inputs from the beginning; `ray`: restore a snapshot, then inputs from its time. */
  readonly mode: 'scratch' | 'ray';
  /** Ray only: the snapshot restored (its version, input number m, event time). */
  readonly snapshot?: { readonly version: string; readonly position: number; readonly time: number; readonly sizeBytes: number };
  /** Replay input events with time ≥ this (scratch: null = from the beginning). */
  readonly fromTime: number | null;
  readonly events: number;
  readonly bytes: number;
  /** Estimated CPU time of this shard (ms). */
  readonly cpuMs: number;
}

/** One row of the strategy table (DESIGN.md §5 `strategies[]`). */
export interface StrategyEstimate {
  readonly name: StrategyName;
  readonly applicable: boolean;
  /** Why it does not apply, or a note on how it was estimated. */
  readonly reason: string | null;
  readonly shards: number;
  readonly eventsToRead: number;
  readonly bytesToRead: number;
  readonly snapshotBytes: number;
  readonly estimatedCpuMs: number;
  readonly estimatedWallMs: number;
}

/** A process downstream of the changed one, and the shards of it that must follow. */
export interface DownstreamEstimate {
  readonly process: string;
  /** The stream it writes. */
  readonly output: string;
  /** Which upstream output it reads the change through. */
  readonly via: readonly string[];
  /** `exact`: from the old outputs of the affected upstream shards; `all`: every shard (see reason). */
  readonly lineage: 'exact' | 'all';
  readonly reason: string | null;
  readonly shards: number;
  /** Up to 20 of the affected keys, sorted, for display. */
  readonly sampleKeys: readonly string[];
  readonly eventsToRead: number;
  readonly estimatedCpuMs: number;
  readonly estimatedWallMs: number;
  /** The cost model the estimate used (a real replay scales it by what it measured, for the next plan). */
  readonly cost: CostModel;
  /** The process version it is rebuilt as (its calibrations are per version). */
  readonly version: string;
}

/** Per-process cost figures measured on this machine (ns = nanoseconds). */
export interface CostModel {
  readonly process: string;
  /** Per input event: the handler, plus reading the event in order (nsPerReadEvent); payload decoding excluded. */
  readonly nsPerEvent: number;
  /**
   * The part of nsPerEvent that is reading the event in order (framing, checksums, objects): what a
   * replay pays per event also for events it only scans (an input or base stream read whole, see
   * src/replay/shard-inputs.ts). Absent (older calibrations): 0.
   */
  readonly nsPerReadEvent?: number;
  /** Reading and decoding input payloads, per payload byte. */
  readonly nsPerByte: number;
  /** Restoring a snapshot, per snapshot byte (decoding). */
  readonly nsPerSnapshotByte: number;
  /** Restoring a snapshot, fixed cost per snapshot (finding and fetching it). */
  readonly nsPerSnapshot: number;
  /** Fixed cost per shard task read on its own (finding and reading the shard, state creation, output flush). */
  readonly nsPerShard: number;
  /*
   * What the replay engine pays besides reading and handling (src/replay): measured by calibrate on
   * the engine's own write path and inputs. Absent in older calibrations: 0 (not modelled).
   */
  /** Per rebuilt shard: its fork record appended, conditionally, with its share of an fsync (group commit). */
  readonly nsPerShardWrite?: number;
  /** Per new output event appended. */
  readonly nsPerWrittenEvent?: number;
  /** Output events per handled input event (the sample's), to estimate what a rebuilt suffix writes. */
  readonly outputsPerEvent?: number;
  /** Per event of a re-keyed input routed to its shards (the key function), once decoded. */
  readonly nsPerRoutedEvent?: number;
  /** Per input event, reading its key, time and type columns to number the inputs (once per run). */
  readonly nsPerColumnEvent?: number;
  /** Where the figures come from: `sample` (handler run on real events), `replay` (actual runs), `default`. */
  readonly source: 'sample' | 'replay' | 'default';
  /** Events the calibration ran over. */
  readonly samples: number;
}

/** Snapshot cadence advice (`--advise-snapshots`), after Young (1974) and Daly (2006). */
export interface SnapshotAdvice {
  readonly process: string;
  /** δ: cost of one snapshot round (ms of CPU). */
  readonly snapshotCostMs: number;
  /** M: mean CPU time of input processing between two changes that need a replay (ms). */
  readonly meanTimeBetweenChangesMs: number;
  /** Where M comes from: observed versions in the store, or the assumption given. */
  readonly changeIntervalSource: string;
  readonly youngIntervalMs: number;
  readonly dalyIntervalMs: number;
  /** Daly's interval as a count of input events (the `snapshots.everyEvents` policy). */
  readonly everyEvents: number;
  /** The process's current policy. */
  readonly currentEveryEvents: number;
}

/** The analyzer's decision (`--out plan.json`), input of `spive replay`. */
export interface ReplayPlan {
  readonly format: 'spive-replay-plan';
  readonly formatVersion: 1;
  readonly store: string;
  readonly app: string;
  readonly process: string;
  readonly output: string;
  readonly change: ReplayChange;
  readonly workers: number;
  readonly strategies: readonly StrategyEstimate[];
  /** null when nothing needs replaying (same version and no `--since`). */
  readonly chosen: StrategyName | null;
  /** Why the chosen strategy (or why nothing). */
  readonly why: string;
  /** The chosen strategy's shard tasks, most expensive first. */
  readonly tasks: readonly ShardTask[];
  readonly downstream: readonly DownstreamEstimate[];
  readonly cost: CostModel;
  /**
   * The fixed cost of a replay run on this store, beyond its processes' shards (reading the inputs'
   * columns and numbering them, views, writing the result), as the last real replay measured it;
   * null before any. Included in every strategy's wall time.
   */
  readonly fixedMs: number | null;
  /** Statistics the plan was made from. */
  readonly stats: { readonly lastPosition: number; readonly events: number; readonly minTime: number | null; readonly maxTime: number | null };
  /** Where planning spent its time (ms per phase: catalogue, calibration, snapshots, shards, downstream, strategies). */
  readonly timings: Readonly<Record<string, number>>;
  readonly advice?: ReadonlyArray<SnapshotAdvice | (Omit<SnapshotAdvice, "youngIntervalMs" | "dalyIntervalMs" | "everyEvents"> & { readonly reason: string })>;
}
