/**
 * The event model. Units are in names or documented: all times are milliseconds since the Unix epoch
 * (event time, not wall time of writing).
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Name of an append-only log of one kind of event, e.g. `transfers`. */
export type StreamName = string;
/** Partition key within a stream, like a primary key. A (stream, key) pair is a *shard*. */
export type Key = string;
/** 1-based position of an event within its shard; contiguous, no gaps. 0 means "before the first". */
export type Seq = number;
/** 1-based position of an event in the whole store, in commit order; contiguous, no gaps. */
export type GlobalPosition = number;
/** Event time in ms since the epoch (integer). */
export type EventTimeMs = number;
/** Monotonically increasing per stream; an append carrying a stale token is rejected. */
export type FencingToken = number;

/**
 * Platform metadata of an event, kept apart from the payload: for a process output, the version that
 * made it and the input it came from (see src/runtime/). Absent on events users append.
 */
export type EventMeta = Readonly<Record<string, JsonValue>>;

/** What a writer hands the store. */
export interface NewEvent<D = JsonValue> {
  readonly type: string;
  readonly time: EventTimeMs;
  readonly data: D;
  readonly meta?: EventMeta;
}

/** What the store hands back: a NewEvent placed in its shard and in the global order. */
export interface StoredEvent<D = JsonValue> extends NewEvent<D> {
  readonly stream: StreamName;
  readonly key: Key;
  readonly seq: Seq;
  readonly position: GlobalPosition;
}

/** The head of a shard: what a conditional append compares against. */
export interface ShardHead {
  readonly lastSeq: Seq;
  /** Event time of the last event, or null for an empty shard. */
  readonly lastTime: EventTimeMs | null;
}

export const EMPTY_SHARD: ShardHead = Object.freeze({ lastSeq: 0, lastTime: null });

/**
 * A per-shard process state at an input position, tagged with the process version that made it.
 * `data` is opaque to the store.
 */
export interface SnapshotInfo {
  readonly process: string;
  readonly version: string;
  /** The shard (key) whose state this is. */
  readonly shard: Key;
  /** The input position the state reflects (every input up to and including it). */
  readonly position: number;
  /** Event time of the last input reflected. */
  readonly time: EventTimeMs;
  readonly sizeBytes: number;
}

export interface Snapshot extends SnapshotInfo {
  readonly data: Uint8Array;
}
