/**
 * The one interface every event store implements (in-memory, embedded, PostgreSQL and NATS
 * JetStream). `test/store/contract.ts` is its executable specification.
 */
import type {
  EventTimeMs,
  FencingToken,
  GlobalPosition,
  Key,
  NewEvent,
  Seq,
  ShardHead,
  Snapshot,
  SnapshotInfo,
  StoredEvent,
  StreamName,
} from '../model/event.ts';
import type { ShardRange } from '../model/shard.ts';
import type { ScanBuffers } from './scan-buffers.ts';

/** An appendIf condition: every given field must equal the shard's head, or the append fails with CONFLICT. */
export interface AppendCondition {
  /** Expected last sequence number of the shard (0 = the shard must be empty). */
  readonly lastSeq?: Seq;
  /** Expected event time of the shard's last event (null = the shard must be empty). */
  readonly lastTime?: EventTimeMs | null;
}

export interface AppendOptions {
  readonly expect?: AppendCondition;
  /** The writer's lease token; required on shards under a lease, rejected (FENCED) when stale. */
  readonly token?: FencingToken;
}

export interface AppendResult {
  readonly firstSeq: Seq;
  readonly lastSeq: Seq;
  readonly firstPosition: GlobalPosition;
  readonly lastPosition: GlobalPosition;
}

export interface LeaseRequest {
  readonly stream: StreamName;
  readonly range: ShardRange;
  /** Who holds it, for error messages and status (e.g. `runner-2@host:pid`). */
  readonly owner: string;
  readonly ttlMs: number;
}

/** Single-writer ownership of an output stream's shard range. */
export interface Lease {
  readonly stream: StreamName;
  readonly range: ShardRange;
  readonly owner: string;
  readonly token: FencingToken;
  /** Wall time (ms since epoch, store clock) after which another owner may take the range. */
  readonly expiresAt: number;
}

export interface ReadShardOptions {
  /** First sequence number to return (default 1). */
  readonly fromSeq?: Seq;
  /** Only events with time >= fromTime. */
  readonly fromTime?: EventTimeMs;
  /** Maximum events per yielded batch (default 1000). */
  readonly batchSize?: number;
}

export interface ReadStreamOptions {
  /** First global position to consider (default 1). */
  readonly fromPosition?: GlobalPosition;
  /** Only events with time >= fromTime. */
  readonly fromTime?: EventTimeMs;
  readonly batchSize?: number;
}

export interface SubscribeOptions {
  /** Only this stream (default: all streams). */
  readonly stream?: StreamName;
  /** First global position to deliver (default 1: everything, then new events as they commit). */
  readonly fromPosition?: GlobalPosition;
  readonly batchSize?: number;
  /** Ends the subscription; the iterator then returns normally. */
  readonly signal?: AbortSignal;
}

export interface SnapshotQuery {
  readonly process: string;
  readonly version: string;
  readonly shard: Key;
  /** Newest snapshot whose position is <= this (default: the newest). */
  readonly atOrBefore?: number;
}

/** Which snapshots `listSnapshots` returns. */
export interface SnapshotFilter {
  readonly process?: string;
  readonly version?: string;
  /** Only snapshots whose event time is at or before this. */
  readonly maxTime?: number;
  /** Only the newest matching snapshot of each (process, version, shard). */
  readonly newestPerShard?: boolean;
}

export interface StreamStats {
  readonly stream: StreamName;
  readonly events: number;
  readonly shards: number;
  readonly minTime: EventTimeMs | null;
  readonly maxTime: EventTimeMs | null;
  /** Global position of the stream's newest event. */
  readonly lastPosition: GlobalPosition;
}

export interface StoreStats {
  readonly events: number;
  readonly lastPosition: GlobalPosition;
  readonly streams: readonly StreamStats[];
  readonly snapshots: number;
}

/**
 * Columns of a run of events of one stream, for fast scans (replay engine, analyzer). Arrays are
 * parallel; `keys`/`types` are dictionaries indexed by `keyIndex`/`typeIndex`. `fields` holds the
 * top-level numeric payload fields (NaN where an event lacks one). Valid until the next batch is read.
 */
export interface ColumnBatch {
  readonly stream: StreamName;
  readonly length: number;
  readonly keys: readonly string[];
  readonly keyIndex: Int32Array;
  readonly types: readonly string[];
  readonly typeIndex: Int32Array;
  readonly seq: Float64Array;
  readonly time: Float64Array;
  readonly position: Float64Array;
  readonly fields: Readonly<Record<string, Float64Array>>;
}

export interface ScanColumnsOptions {
  /** Numeric payload fields wanted (default: every numeric field the store has columns for). */
  readonly fields?: readonly string[];
  /**
   * For handing batches to worker threads: columns read from files land in SharedArrayBuffers (posted
   * to a worker without a copy), four in turn, so a batch stays valid until three more have been read
   * (the consumer reads the next batch while workers fold this one). A store may ignore it; its
   * batches are then copied when posted. The embedded store may leave seq and position out of a
   * shared batch's enumerable columns, with where they lie in its file: a worker passes the batch it
   * receives through `withLazyColumns` (src/store/embedded/lean-column-batch.ts) to read them on use.
   * With `buffers`, their `shared` decides (a different `shared` here is an error).
   */
  readonly shared?: boolean;
  /**
   * Buffers the consumer lends the scan and keeps from its last one (see ScanBuffers for the rule):
   * fresh memory per scan costs more than reading the files. A store may ignore them.
   */
  readonly buffers?: ScanBuffers;
}

/** A sealed, immutable range of one stream's history as a Parquet file (columns: `PARQUET_COLUMNS`). */
export interface SealedHistoryFile {
  readonly stream: StreamName;
  /** Absolute path of the Parquet file. */
  readonly path: string;
  readonly rows: number;
  readonly firstPosition: GlobalPosition;
  readonly lastPosition: GlobalPosition;
  readonly minTime: EventTimeMs;
  readonly maxTime: EventTimeMs;
}

export interface EventStore {
  /** A short description such as `memory:` or `file:/path/.spive`. */
  readonly location: string;

  /** Appends a non-empty batch to one shard, atomically: all events or none. `data` must be JSON-serializable. */
  append(stream: StreamName, key: Key, events: readonly NewEvent<unknown>[], options?: AppendOptions): Promise<AppendResult>;
  /** The shard's head (`{lastSeq: 0, lastTime: null}` when empty). */
  head(stream: StreamName, key: Key): Promise<ShardHead>;

  readShard(stream: StreamName, key: Key, options?: ReadShardOptions): AsyncIterable<StoredEvent[]>;
  readStream(stream: StreamName, options?: ReadStreamOptions): AsyncIterable<StoredEvent[]>;
  readAll(options?: { fromPosition?: GlobalPosition; batchSize?: number }): AsyncIterable<StoredEvent[]>;
  /** Catch up from `fromPosition`, then wait for and deliver new commits until aborted or closed. */
  subscribe(options?: SubscribeOptions): AsyncIterable<StoredEvent[]>;
  /** The stream's history as typed columns, in global order. */
  scanColumns(stream: StreamName, options?: ScanColumnsOptions): AsyncIterable<ColumnBatch>;

  acquireLease(request: LeaseRequest): Promise<Lease>;
  renewLease(lease: Lease, ttlMs: number): Promise<Lease>;
  releaseLease(lease: Lease): Promise<void>;

  putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): Promise<void>;
  getSnapshot(query: SnapshotQuery): Promise<Snapshot | undefined>;
  listSnapshots(filter?: SnapshotFilter): Promise<SnapshotInfo[]>;

  stats(): Promise<StoreStats>;
  /**
   * Optional: the history already sealed into Parquet files, so analysis (DuckDB) reads it directly
   * instead of through the store. Events not covered by these files are read with readStream.
   */
  sealedHistory?(): readonly SealedHistoryFile[];
  /** Waits for pending work, stops subscriptions, releases files and locks. Idempotent. */
  close(): Promise<void>;
}
