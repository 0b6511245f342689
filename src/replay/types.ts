/**
 * The replay engine's vocabulary. The engine executes a *job*: the changed process, its new version,
 * one task per shard to rebuild (from its initial state, or from a snapshot), and the downstream
 * processes that follow. The CLI turns a plan file (analyzer/types.ts `ReplayPlan`) into a job, so
 * this folder does not depend on the analyzer.
 */
import type { JsonValue } from '../model/event.ts';

/** How one shard of the changed process is rebuilt (the plan's `ShardTask`, as the engine needs it). */
export interface ShardJob {
  readonly key: string;
  /** `scratch`: from the initial state and the first input; `ray`: from a snapshot, inputs after it. */
  readonly mode: 'scratch' | 'ray';
  /** Ray only: the snapshot to restore — made by `version`, reflecting merged inputs 1..`position` (m). */
  readonly snapshot?: { readonly version: string; readonly position: number };
  /** The planner's estimate for this shard (ms of CPU), for calibration and progress. */
  readonly estimatedCpuMs?: number;
  /** The planner's estimate of input events to read. */
  readonly estimatedEvents?: number;
}

export interface ReplayJob {
  /** The changed process (by name, in the app). */
  readonly process: string;
  /** The version that wrote the base output (null: none yet). */
  readonly fromVersion: string | null;
  /** The process's new version: tags its outputs, and names every versioned stream of this replay. */
  readonly toVersion: string;
  readonly strategy: string;
  readonly tasks: readonly ShardJob[];
  /** Downstream processes that follow, in graph order (their shards are derived by lineage). */
  readonly downstream: readonly string[];
}

/** The first event of a shard of a versioned stream: where the new version's output forks from the base. */
export interface ForkRecord {
  /** The base stream whose prefix is shared. */
  readonly base: string;
  /** The new output shares the base shard's events 1..baseSeq. */
  readonly baseSeq: number;
  /**
   * Events the replay wrote after the fork record: the shard is complete when its last seq is at least
   * 1 + count (after a switch-over, the new version's runner appends after them).
   */
  readonly count: number;
  readonly process: string;
  readonly fromVersion: string | null;
  readonly toVersion: string;
  /** How the shard was rebuilt: `scratch`, `ray` (with the snapshot's m), or `live`: forked by the new version's runner at its first output since the change (generation-store.ts). */
  readonly mode: 'scratch' | 'ray' | 'live';
  readonly snapshotM: number | null;
}

/** An effect a handler requested during the replay, suppressed (never performed). */
export interface SuppressedEffect {
  readonly process: string;
  readonly key: string;
  readonly gateway: string;
  readonly request: unknown;
  /** The key the runner would have given it: `process/key/stream@position/index`. */
  readonly idempotencyKey: string;
  /** True when the input that requested it produced output the old version did not (for the changed process: other outputs than the old version wrote for the same input). */
  readonly changed: boolean;
}

export interface ProcessReport {
  readonly process: string;
  readonly version: string;
  /** The versioned output stream written. */
  readonly outputStream: string;
  readonly baseStream: string;
  /** Shards rebuilt (including those found complete from an earlier run). */
  readonly shards: number;
  /** Shards found complete (skipped) or partly written (continued) from an earlier run. */
  readonly resumedShards: number;
  readonly eventsRead: number;
  readonly eventsWritten: number;
  /** Events shared with the base (not copied) in the rebuilt shards. */
  readonly eventsShared: number;
  /** Shards computed by the columnar fold (the rest went through decoded events). */
  readonly columnarShards: number;
  readonly wallMs: number;
}

export interface VerifyDifference {
  readonly shard: string;
  /** Seq (in the base shard) of the first event that differs. */
  readonly seq: number;
  readonly expected: { readonly type: string; readonly data: JsonValue } | null;
  readonly actual: { readonly type: string; readonly data: unknown } | null;
}

export interface VerifyReport {
  readonly verified: boolean;
  /** Shards outside the affected set that were compared. */
  readonly shardsCompared: number;
  /** Shards outside the affected set in all. */
  readonly candidates: number;
  readonly eventsCompared: number;
  readonly firstDifference: VerifyDifference | null;
}

export interface ReplayProgress {
  readonly process: string;
  /** Input events handled so far, and the expected total (the plan's estimate, corrected as shards finish). */
  readonly eventsDone: number;
  readonly eventsTotal: number;
  readonly shardsDone: number;
  readonly shardsTotal: number;
  readonly elapsedMs: number;
}

export interface ReplayResult {
  readonly strategy: string;
  readonly processes: readonly ProcessReport[];
  readonly eventsRead: number;
  readonly eventsWritten: number;
  readonly shards: number;
  readonly resumedShards: number;
  readonly outputStream: string;
  readonly suppressedEffects: number;
  /** Only when asked for (`listEffects`). */
  readonly effects: readonly SuppressedEffect[];
  readonly verify: VerifyReport | null;
  readonly wallMs: number;
}
