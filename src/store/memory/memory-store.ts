/**
 * The reference event store: everything in memory, every rule of the contract, nothing durable.
 * The simulator runs apps on it; the contract suite's property tests compare other stores to it.
 */
import { ClosedError, InvalidInputError } from '../../model/errors.ts';
import type { NewEvent, ShardHead, Snapshot, SnapshotInfo, StoredEvent } from '../../model/event.ts';
import { realClock, type Clock } from '../../time/clock.ts';
import { columnsFromEvents } from '../columns.ts';
import type {
  AppendOptions,
  AppendResult,
  ColumnBatch,
  EventStore,
  Lease,
  LeaseRequest,
  ReadShardOptions,
  ReadStreamOptions,
  ScanColumnsOptions,
  SnapshotFilter,
  SnapshotQuery,
  StoreStats,
  SubscribeOptions,
} from '../event-store.ts';
import { SnapshotIndex } from '../snapshot-index.ts';
import { ShardMap, StoreState } from '../store-state.ts';
import { CommitSignal } from '../subscription.ts';
import { copyJson } from '../json-copy.ts';
import {
  validateAppendOptions,
  validateBatchSize,
  validateEvents,
  validateKey,
  validateRange,
  validateStream,
  validateTtl,
} from '../validate.ts';
import { firstAtOrAfter } from '../../util/position-search.ts';

export interface MemoryStoreOptions {
  /** Time source for lease expiry (default: the real clock). */
  readonly clock?: Clock;
  /** A planted platform bug for the simulator's tests (the `skip-fencing` mutation). Never in production. */
  readonly unsafeSkipFencing?: boolean;
  /**
   * Called after every successful append with the events as stored (same objects readers get), before
   * subscribers are woken: lets an observer (the simulator's oracles and trace) see commits without
   * reading them back.
   */
  readonly onAppend?: (events: readonly StoredEvent[], options: AppendOptions | undefined) => void;
}

export class MemoryStore implements EventStore {
  readonly location = 'memory:';
  private readonly clock: Clock;
  private readonly state: StoreState;
  /** All events in global order: `all[p - 1]` has position p. */
  private readonly all: StoredEvent[] = [];
  private readonly shards = new ShardMap<StoredEvent[]>();
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly snapshots = new SnapshotIndex<Uint8Array>();
  /** Wakes subscriptions to every stream (and all of them when the store closes). */
  private readonly commits = new CommitSignal();
  /**
   * Per stream: wakes the subscriptions to that stream alone. A commit used to wake every waiting
   * subscription, and each then read its own stream to find nothing new and waited again (a promise,
   * a search and a slice per idle subscription per commit, in the simulator about one per platform event).
   */
  private readonly streamCommits = new Map<string, CommitSignal>();
  /** Set once a subscription to every stream has waited on `commits` (until then a commit has no one to wake there). */
  private everyStreamWaited = false;
  private closed = false;
  private readonly onAppend: MemoryStoreOptions['onAppend'];

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.onAppend = options.onAppend;
    this.state = new StoreState({ skipFencing: options.unsafeSkipFencing === true });
  }

  /** Stream names that passed `validateStream` (a regex test): a store sees a few names, each on every call. */
  private readonly validStreams = new Set<string>();

  private checkStream(stream: string): void {
    if (this.validStreams.has(stream)) return;
    validateStream(stream);
    this.validStreams.add(stream);
  }

  private ensureOpen(): void {
    if (this.closed) throw new ClosedError();
  }

  async append(stream: string, key: string, events: readonly NewEvent<unknown>[], options?: AppendOptions): Promise<AppendResult> {
    return this.appendNow(stream, key, events, options);
  }

  /**
   * `append`, done at once: the result, or a throw. The simulator's network calls it so that a
   * simulated store call does not cost an extra promise and microtask hop per call; the rules are the
   * same code (`append` is this).
   */
  appendNow(stream: string, key: string, events: readonly NewEvent<unknown>[], options?: AppendOptions): AppendResult {
    this.ensureOpen();
    this.checkStream(stream);
    validateKey(key);
    validateEvents(events);
    validateAppendOptions(options);
    // Copies first: a value that is not JSON fails with INVALID_INPUT before any CONFLICT or FENCED.
    // Data and meta of event i at 2i and 2i + 1: one array per append, not two (every append the
    // simulator makes comes through here); none for the one-event append, the usual one.
    const n = events.length;
    let copies: unknown[] | undefined;
    let data0: unknown;
    let meta0: unknown;
    if (n === 1) {
      const e = events[0] as NewEvent<unknown>;
      data0 = copyJson(e.data, fieldName(0, 'data'));
      meta0 = e.meta === undefined ? undefined : copyJson(e.meta, fieldName(0, 'meta'));
    } else {
      copies = new Array<unknown>(2 * n);
      for (let i = 0; i < n; i++) {
        const e = events[i] as NewEvent<unknown>;
        copies[2 * i] = copyJson(e.data, fieldName(i, 'data'));
        copies[2 * i + 1] = e.meta === undefined ? undefined : copyJson(e.meta, fieldName(i, 'meta'));
      }
    }
    const plan = this.state.planAppend(stream, key, events, options);
    let maxTime = Number.NEGATIVE_INFINITY;
    const stored = new Array<StoredEvent>(n);
    for (let i = 0; i < n; i++) {
      const e = events[i] as NewEvent<unknown>;
      if (e.time > maxTime) maxTime = e.time;
      const seq = plan.firstSeq + i;
      const position = plan.firstPosition + i;
      const data = (copies === undefined ? data0 : copies[2 * i]) as StoredEvent['data'];
      const meta = (copies === undefined ? meta0 : copies[2 * i + 1]) as StoredEvent['meta'];
      stored[i] = Object.freeze(
        meta === undefined
          ? { stream, key, seq, position, type: e.type, time: e.time, data }
          : { stream, key, seq, position, type: e.type, time: e.time, data, meta },
      );
    }
    this.state.applyAppend(plan, maxTime);
    const all = this.all;
    for (let i = 0; i < n; i++) all.push(stored[i] as StoredEvent);
    const shard = this.shards.get(stream, key);
    if (shard === undefined) this.shards.set(stream, key, stored.slice());
    else for (let i = 0; i < n; i++) shard.push(stored[i] as StoredEvent);
    push(this.streams, stream, stored);
    this.onAppend?.(stored, options);
    this.streamCommits.get(stream)?.notify();
    if (this.everyStreamWaited) this.commits.notify();
    return {
      firstSeq: plan.firstSeq,
      lastSeq: plan.firstSeq + plan.count - 1,
      firstPosition: plan.firstPosition,
      lastPosition: plan.firstPosition + plan.count - 1,
    };
  }

  async head(stream: string, key: string): Promise<ShardHead> {
    return this.headNow(stream, key);
  }

  /** `head`, done at once (see `appendNow`). */
  headNow(stream: string, key: string): ShardHead {
    this.checkStream(stream);
    validateKey(key);
    return this.state.head(stream, key);
  }

  async *readShard(stream: string, key: string, options?: ReadShardOptions): AsyncIterable<StoredEvent[]> {
    this.checkStream(stream);
    validateKey(key);
    const batchSize = validateBatchSize(options?.batchSize);
    const events = this.shards.get(stream, key) ?? [];
    const fromTime = options?.fromTime ?? Number.NEGATIVE_INFINITY;
    // seq is 1-based and contiguous, so the shard array index is seq - 1.
    yield* batches(events, Math.max(0, (options?.fromSeq ?? 1) - 1), batchSize, (e) => e.time >= fromTime);
  }

  async *readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<StoredEvent[]> {
    this.checkStream(stream);
    const batchSize = validateBatchSize(options?.batchSize);
    const events = this.streams.get(stream) ?? [];
    const fromTime = options?.fromTime ?? Number.NEGATIVE_INFINITY;
    const start = firstAtOrAfter(events, options?.fromPosition ?? 1);
    yield* batches(events, start, batchSize, (e) => e.time >= fromTime);
  }

  async *readAll(options?: { fromPosition?: number; batchSize?: number }): AsyncIterable<StoredEvent[]> {
    const batchSize = validateBatchSize(options?.batchSize);
    yield* batches(this.all, Math.max(0, (options?.fromPosition ?? 1) - 1), batchSize, () => true);
  }

  subscribe(options?: SubscribeOptions): AsyncIterable<StoredEvent[]> {
    return new MemorySubscription(options, this.commits, this);
  }

  /** The signal a subscription waits on: its stream's, or every commit's (no stream). */
  commitSignal(stream: string | undefined): CommitSignal {
    if (stream === undefined) {
      this.everyStreamWaited = true;
      return this.commits;
    }
    let signal = this.streamCommits.get(stream);
    if (signal === undefined) {
      signal = new CommitSignal();
      if (this.commits.isClosed) signal.close();
      this.streamCommits.set(stream, signal);
    }
    return signal;
  }

  /** Up to `batchSize` events of `stream` (all streams when undefined) from `fromPosition` on, read synchronously. */
  readBatch(stream: string | undefined, fromPosition: number, batchSize: number): StoredEvent[] {
    const events = stream === undefined ? this.all : (this.streams.get(stream) ?? []);
    const start = stream === undefined ? Math.max(0, fromPosition - 1) : firstAtOrAfter(events, fromPosition);
    return events.slice(start, start + batchSize);
  }

  get lastPosition(): number {
    return this.state.lastPosition;
  }

  async *scanColumns(stream: string, options?: ScanColumnsOptions): AsyncIterable<ColumnBatch> {
    this.checkStream(stream);
    const events = this.streams.get(stream) ?? [];
    const chunk = 65536;
    for (let i = 0; i < events.length; i += chunk) {
      yield columnsFromEvents(stream, events.slice(i, i + chunk), options?.fields);
    }
  }

  async acquireLease(request: LeaseRequest): Promise<Lease> {
    this.ensureOpen();
    validateStream(request.stream, 'request.stream');
    validateRange(request.range, 'request.range');
    validateTtl(request.ttlMs);
    if (typeof request.owner !== 'string' || request.owner === '') {
      throw new InvalidInputError('request.owner', 'a non-empty owner name', request.owner);
    }
    const lease = this.state.planAcquire(request, this.clock.nowMs());
    this.state.applyLease(lease);
    return lease;
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    this.ensureOpen();
    validateTtl(ttlMs);
    const renewed = this.state.planRenew(lease, ttlMs, this.clock.nowMs());
    this.state.applyLease(renewed);
    return renewed;
  }

  async releaseLease(lease: Lease): Promise<void> {
    this.ensureOpen();
    if (this.state.planRelease(lease)) this.state.applyRelease(lease.stream, lease.token);
  }

  async putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): Promise<void> {
    this.putSnapshotNow(snapshot);
  }

  /** `putSnapshot`, done at once (see `appendNow`). */
  putSnapshotNow(snapshot: Omit<Snapshot, 'sizeBytes'>): void {
    this.ensureOpen();
    const info = snapshotInfo(snapshot);
    this.snapshots.put(info, snapshot.data.slice());
  }

  async getSnapshot(query: SnapshotQuery): Promise<Snapshot | undefined> {
    const found = this.snapshots.find(query);
    return found === undefined ? undefined : { ...found.info, data: found.locator.slice() };
  }

  async listSnapshots(filter?: SnapshotFilter): Promise<SnapshotInfo[]> {
    return this.snapshots.list(filter);
  }

  async stats(): Promise<StoreStats> {
    return {
      events: this.all.length,
      lastPosition: this.state.lastPosition,
      streams: this.state.streamStats(),
      snapshots: this.snapshots.size,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const signal of this.streamCommits.values()) signal.close();
    this.commits.close();
  }
}

/** `events[i].data` / `.meta` as copyJson names a field it rejects: one function per index and part, made once (not two closures per append). */
const FIELD_NAMES: { data: Array<() => string>; meta: Array<() => string> } = { data: [], meta: [] };

function fieldName(i: number, part: 'data' | 'meta'): () => string {
  if (i >= 64) return () => `events[${i}].${part}`; // large batches: not kept
  const names = FIELD_NAMES[part];
  return names[i] ?? (names[i] = () => `events[${i}].${part}`);
}

/** Validates a snapshot and returns its metadata. Shared with other stores. */
export function snapshotInfo(snapshot: Omit<Snapshot, 'sizeBytes'>): SnapshotInfo {
  checkSnapshotPlace(snapshot.process, snapshot.version, snapshot.shard, snapshot.position, snapshot.time);
  if (!(snapshot.data instanceof Uint8Array)) throw new InvalidInputError('snapshot.data', 'a Uint8Array');
  return {
    process: snapshot.process,
    version: snapshot.version,
    shard: snapshot.shard,
    position: snapshot.position,
    time: snapshot.time,
    sizeBytes: snapshot.data.byteLength,
  };
}

/** A snapshot's place as every store checks it: non-empty names, an integer position >= 0, an integer time. */
export function checkSnapshotPlace(process: unknown, version: unknown, shard: unknown, position: number, time: number): void {
  if (typeof process !== 'string' || process === '') throw new InvalidInputError('snapshot.process', 'a non-empty string', process);
  if (typeof version !== 'string' || version === '') throw new InvalidInputError('snapshot.version', 'a non-empty string', version);
  if (typeof shard !== 'string' || shard === '') throw new InvalidInputError('snapshot.shard', 'a non-empty string', shard);
  if (!Number.isSafeInteger(position) || position < 0) throw new InvalidInputError('snapshot.position', 'an integer position >= 0', position);
  if (!Number.isSafeInteger(time)) throw new InvalidInputError('snapshot.time', 'an integer time', time);
}

function push<T>(map: Map<string, T[]>, id: string, items: readonly T[]): void {
  const list = map.get(id);
  if (list === undefined) map.set(id, items.slice());
  else for (let i = 0; i < items.length; i++) list.push(items[i] as T);
}

function* batches(
  events: readonly StoredEvent[],
  start: number,
  batchSize: number,
  keep: (e: StoredEvent) => boolean,
): Iterable<StoredEvent[]> {
  let batch: StoredEvent[] = [];
  // Bound by the length at call time plus what is appended meanwhile: reads see new commits.
  for (let i = start; i < events.length; i++) {
    const e = events[i] as StoredEvent;
    if (!keep(e)) continue;
    batch.push(e);
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * A subscription to the memory store: what `subscribeWith` does (catch up by reading, then wait for
 * the next commit, abort or close), as a plain iterator that reads each batch synchronously: the
 * simulator runs every runner's inputs through here, and an async generator over another async
 * generator per wake-up cost several promises per batch. Options are validated on the first `next`,
 * as the generator did.
 */
class MemorySubscription implements AsyncIterableIterator<StoredEvent[]> {
  private started = false;
  private finished = false;
  private nextPosition: number;
  private batchSize = 0;
  private readonly stream: string | undefined;
  private readonly signal: AbortSignal | undefined;
  /** Where it waits for commits: its stream's signal (looked up at the first wait). */
  private waitOn: CommitSignal | undefined;
  /** Wakes a `next` waiting for a commit, abort, close or `return`. */
  private wake: (() => void) | undefined;
  private readonly onAbort = (): void => this.wakeUp();

  constructor(
    private readonly options: SubscribeOptions | undefined,
    private readonly commits: CommitSignal,
    private readonly store: MemoryStore,
  ) {
    this.nextPosition = options?.fromPosition ?? 1;
    this.stream = options?.stream;
    this.signal = options?.signal;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Calls to `next` not yet settled: they run one after the other, as an async generator's do. */
  private outstanding = 0;
  private last: Promise<unknown> = Promise.resolve();

  next(): Promise<IteratorResult<StoredEvent[]>> {
    const pull = this.outstanding++ === 0 ? this.pull() : this.last.then(this.pullAfter, this.pullAfter);
    this.last = pull;
    return pull;
  }

  private readonly pullAfter = (): Promise<IteratorResult<StoredEvent[]>> => this.pull();

  private async pull(): Promise<IteratorResult<StoredEvent[]>> {
    try {
      return await this.read();
    } finally {
      this.outstanding--;
    }
  }

  private async read(): Promise<IteratorResult<StoredEvent[]>> {
    if (!this.started) {
      this.started = true;
      if (this.stream !== undefined) validateStream(this.stream);
      this.batchSize = validateBatchSize(this.options?.batchSize);
      this.signal?.addEventListener('abort', this.onAbort, { once: true });
    }
    for (;;) {
      if (this.finished || this.signal?.aborted === true || this.commits.isClosed) return this.end();
      const upTo = this.store.lastPosition;
      if (this.nextPosition <= upTo) {
        const batch = this.store.readBatch(this.stream, this.nextPosition, this.batchSize);
        if (batch.length > 0) {
          this.nextPosition = (batch[batch.length - 1] as StoredEvent).position + 1;
          return { done: false, value: batch };
        }
        this.nextPosition = upTo + 1;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        (this.waitOn ??= this.store.commitSignal(this.stream)).wait(this.wakeUp);
      });
    }
  }

  async return(): Promise<IteratorResult<StoredEvent[]>> {
    this.finished = true;
    this.wakeUp();
    return this.end();
  }

  private readonly wakeUp = (): void => {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  };

  private end(): IteratorResult<StoredEvent[]> {
    this.finished = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    return { done: true, value: undefined };
  }
}
