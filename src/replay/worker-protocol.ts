/**
 * What the replay's main thread and its worker threads say to each other. A worker computes; it never
 * touches the store: the main thread reads (once, for every worker) and writes (one writer per
 * stream). Each request gets exactly one reply, in order, so the main side matches them by position.
 */
import type { ColumnBatch } from '../store/event-store.ts';
import type { FoldResult, FoldStart } from './columnar-fold.ts';
import type { ShardInput, ShardRun } from './shard-run.ts';

/** Given to every worker when it starts. */
export interface WorkerSetup {
  /** The app module (loaded by each worker: handlers cannot be sent). */
  readonly appFile: string;
}

/** Which process, as which version, a request runs. */
export interface ProcessRef {
  readonly process: string;
  readonly version: string;
}

export type WorkerRequest =
  /** Starts a columnar fold of these shards (the worker's share); `m` is shared memory when it can be. */
  | (ProcessRef & { readonly kind: 'fold.start'; readonly shards: ReadonlyMap<string, FoldStart>; readonly m: Float64Array | null; readonly check: boolean })
  /**
   * Folds the worker's shards' rows among the first `n` of a batch whose first row is input event
   * `g0` (0-based); `keyRuns`: where its runs of one key start, when the main thread found them.
   */
  | { readonly kind: 'fold.batch'; readonly batch: ColumnBatch; readonly n: number; readonly g0: number; readonly keyRuns?: Int32Array }
  /** Ends the fold and returns its shards. */
  | { readonly kind: 'fold.end' }
  /** Runs one shard over its inputs (the object path). */
  | (ProcessRef & { readonly kind: 'shard'; readonly key: string; readonly state: unknown; readonly inputs: readonly ShardInput[] });

export type WorkerReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'ok' }
  | { readonly kind: 'fold.result'; readonly result: Omit<FoldResult, 'scanned'> }
  | { readonly kind: 'shard.run'; readonly run: ShardRun }
  /** The request failed: a handler bug, a broken `reads` declaration, an app that does not load. */
  | { readonly kind: 'error'; readonly name: string; readonly message: string };
