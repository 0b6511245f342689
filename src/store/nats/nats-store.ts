/**
 * The NATS JetStream event store (`nats://host:port?prefix=<name>`): many processes, on many machines,
 * share one store through a NATS server. Layout in nats-layout.ts; how writes stay atomic, ordered
 * and fenced in conditional-writer.ts and event-message.ts; the whole design in docs/nats-store.md.
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { ClosedError, ConflictError, InvalidInputError } from '../../model/errors.ts';
import { EMPTY_SHARD, type NewEvent, type ShardHead, type Snapshot, type SnapshotInfo, type StoredEvent } from '../../model/event.ts';
import { realRandom } from '../../random/real-random.ts';
import type { Random } from '../../random/random.ts';
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
  StreamStats,
  SubscribeOptions,
} from '../event-store.ts';
import {
  validateAppendOptions,
  validateBatchSize,
  validateEvents,
  validateKey,
  validateRange,
  validateStream,
  validateTtl,
} from '../validate.ts';
import { ConditionalWriter, type SubjectHead, type View } from './conditional-writer.ts';
import { ALL_EVENTS, batchHeaders, batchPayload, checkSize, controlHeaders, decodeBatch, encodeBatch, readPlacement, type EventFilter, type Placement } from './event-message.ts';
import { acquire, checkToken, decodeLeaseTable, EMPTY_LEASE_TABLE, release, renew, type LeaseTable } from './lease-table.ts';
import { dropNats, openNats, type NatsHandles } from './nats-connection.ts';
import { unavailable } from './nats-errors.ts';
import { NatsLayout } from './nats-layout.ts';
import { formatNatsLocation, parseNatsLocation, type NatsLocation } from './nats-location.ts';
import { orderedChunks, ReadRegistry } from './ordered-reads.ts';
import { sequenceOfPosition } from './position-index.ts';
import { SnapshotBucket } from './snapshot-bucket.ts';

export interface NatsStoreOptions {
  /** Time source for lease expiry (default: the real clock). */
  readonly clock?: Clock;
  /** Source of this instance's message-id prefix (default: seeded from the OS). */
  readonly random?: Random;
  /** How long to wait for the server when connecting (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /**
   * Wraps the JetStream client the writer publishes through: the seam where tests and the simulator
   * inject transport faults (a lost reply, a concurrent writer between decision and publish).
   */
  readonly wrapPublisher?: (js: JetStreamClient) => JetStreamClient;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Largest batch a read allocates up front (a larger one grows as it fills). */
const PREALLOCATED_MAX = 4096;

export class NatsStore implements EventStore {
  readonly location: string;
  private readonly writer: ConditionalWriter;
  private readonly snapshots: SnapshotBucket;
  private readonly reads = new ReadRegistry();
  private closed = false;
  /** The JetStream stream holding every event and lease table of this store (for tools and benchmarks). */
  readonly eventsStreamName: string;

  private constructor(
    private readonly handles: NatsHandles,
    private readonly layout: NatsLayout,
    location: NatsLocation,
    private readonly clock: Clock,
    random: Random,
    wrapPublisher: ((js: JetStreamClient) => JetStreamClient) | undefined,
  ) {
    this.location = formatNatsLocation(location);
    this.eventsStreamName = layout.eventsStream;
    const writerId = `${random.int(0, 2 ** 31 - 1).toString(36)}${random.int(0, 2 ** 31 - 1).toString(36)}`;
    this.writer = new ConditionalWriter(wrapPublisher?.(handles.js) ?? handles.js, handles.jsm, layout, writerId);
    this.snapshots = new SnapshotBucket(handles.snapshots, handles.js, handles.jsm, layout, this.reads, handles.maxPayloadBytes);
  }

  /** Connects and creates the store's stream and bucket if needed. `url`: `nats://host:port?prefix=<name>`. */
  static async open(url: string | NatsLocation, options: NatsStoreOptions = {}): Promise<NatsStore> {
    const location = typeof url === 'string' ? parseNatsLocation(url) : url;
    const layout = new NatsLayout(location.prefix);
    const handles = await openNats(location, layout, options.connectTimeoutMs ?? 5000);
    return new NatsStore(handles, layout, location, options.clock ?? realClock, options.random ?? realRandom(), options.wrapPublisher);
  }

  private ensureOpen(): void {
    if (this.closed) throw new ClosedError();
  }

  // ---------------------------------------------------------------- writes

  async append(stream: string, key: string, events: readonly NewEvent<unknown>[], options?: AppendOptions): Promise<AppendResult> {
    this.ensureOpen();
    validateStream(stream);
    validateKey(key);
    validateEvents(events);
    validateAppendOptions(options);
    const batch = encodeBatch(stream, key, events);
    checkSize(batch, this.handles.maxPayloadBytes);
    const subject = this.layout.shardSubject(stream, key);
    return this.writer.write(`appending to ${stream}/${key}`, [this.layout.leaseSubject(stream), subject], batch.payload.byteLength, async (view) => {
      // Fencing first: a stale writer must learn it is fenced, not that its expectation was off.
      checkToken(await this.leaseTable(view, stream), stream, key, options?.token);
      const head = shardHead(await view.head(subject));
      const expect = options?.expect;
      if (expect !== undefined) {
        const seqOk = expect.lastSeq === undefined || expect.lastSeq === head.lastSeq;
        const timeOk = expect.lastTime === undefined || expect.lastTime === head.lastTime;
        if (!seqOk || !timeOk) throw new ConflictError({ stream, key, expected: { ...expect }, actual: { ...head } });
      }
      return {
        subject,
        body: batchPayload(batch, view.tail.lastPosition + 1, head.lastSeq + 1),
        headers: batchHeaders(batch, view.tail.lastPosition + 1, head.lastSeq + 1),
        count: batch.count,
        result: (p: Placement) => ({
          firstSeq: p.firstSeq,
          lastSeq: p.firstSeq + p.count - 1,
          firstPosition: p.firstPosition,
          lastPosition: p.firstPosition + p.count - 1,
        }),
      };
    });
  }

  async head(stream: string, key: string): Promise<ShardHead> {
    validateStream(stream);
    validateKey(key);
    this.ensureOpen();
    const msg = await this.handles.jsm.streams.getMessage(this.layout.eventsStream, { last_by_subj: this.layout.shardSubject(stream, key) }).catch((e: unknown) => {
      throw unavailable(`reading the head of ${stream}/${key}`, e);
    });
    if (msg === null) return EMPTY_SHARD;
    return shardHead({ subjectSeq: msg.seq, placement: readPlacement(msg.subject, msg.seq, msg.header), body: undefined });
  }

  // ---------------------------------------------------------------- leases

  private async leaseTable(view: View, stream: string): Promise<LeaseTable> {
    const subject = this.layout.leaseSubject(stream);
    const head = await view.head(subject);
    return head.body === undefined ? EMPTY_LEASE_TABLE : decodeLeaseTable(subject, textDecoder.decode(head.body));
  }

  /** Replaces a stream's lease table by what `change` returns (it may throw, or return no table: nothing to write). */
  private updateLeases<T>(stream: string, change: (table: LeaseTable, nowMs: number) => { table?: LeaseTable; value: T }): Promise<T> {
    this.ensureOpen();
    const subject = this.layout.leaseSubject(stream);
    return this.writer.write<T>(`updating the leases of ${stream}`, [subject], 1024, async (view) => {
      const { table, value } = change(await this.leaseTable(view, stream), this.clock.nowMs());
      if (table === undefined) return { nothing: true, value };
      return {
        subject,
        body: textEncoder.encode(JSON.stringify(table)),
        headers: controlHeaders(view.tail.lastPosition + 1),
        count: 0,
        result: () => value,
      };
    });
  }

  async acquireLease(request: LeaseRequest): Promise<Lease> {
    validateStream(request.stream, 'request.stream');
    validateRange(request.range, 'request.range');
    validateTtl(request.ttlMs);
    if (typeof request.owner !== 'string' || request.owner === '') {
      throw new InvalidInputError('request.owner', 'a non-empty owner name', request.owner);
    }
    return this.updateLeases(request.stream, (table, now) => {
      const { table: next, lease } = acquire(table, request, now);
      return { table: next, value: lease };
    });
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    validateTtl(ttlMs);
    return this.updateLeases(lease.stream, (table, now) => {
      const { table: next, lease: renewed } = renew(table, lease, ttlMs, now);
      return { table: next, value: renewed };
    });
  }

  async releaseLease(lease: Lease): Promise<void> {
    await this.updateLeases(lease.stream, (table) => ({ table: release(table, lease), value: undefined }));
  }

  // ---------------------------------------------------------------- reads

  async *readShard(stream: string, key: string, options?: ReadShardOptions): AsyncIterable<StoredEvent[]> {
    validateStream(stream);
    validateKey(key);
    const batchSize = validateBatchSize(options?.batchSize);
    this.ensureOpen();
    const filter = { fromPosition: 1, fromSeq: options?.fromSeq ?? 1, fromTime: options?.fromTime ?? Number.NEGATIVE_INFINITY };
    yield* this.readEvents(this.layout.shardSubject(stream, key), filter, batchSize, false, undefined);
  }

  async *readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<StoredEvent[]> {
    validateStream(stream);
    const batchSize = validateBatchSize(options?.batchSize);
    this.ensureOpen();
    yield* this.readEvents(this.layout.streamEvents(stream), positionFilter(options?.fromPosition, options?.fromTime), batchSize, false, undefined, true);
  }

  async *readAll(options?: { fromPosition?: number; batchSize?: number }): AsyncIterable<StoredEvent[]> {
    const batchSize = validateBatchSize(options?.batchSize);
    this.ensureOpen();
    yield* this.readEvents(this.layout.allEvents, positionFilter(options?.fromPosition, undefined), batchSize, false, undefined, true);
  }

  async *subscribe(options?: SubscribeOptions): AsyncIterable<StoredEvent[]> {
    if (options?.stream !== undefined) validateStream(options.stream);
    const batchSize = validateBatchSize(options?.batchSize);
    this.ensureOpen();
    const filter = options?.stream === undefined ? this.layout.allEvents : this.layout.streamEvents(options.stream);
    yield* this.readEvents(filter, positionFilter(options?.fromPosition, undefined), batchSize, true, options?.signal);
  }

  async *scanColumns(stream: string, options?: ScanColumnsOptions): AsyncIterable<ColumnBatch> {
    for await (const events of this.readStream(stream, { batchSize: 65536 })) yield columnsFromEvents(stream, events, options?.fields);
  }

  /**
   * Decodes the event messages on `subjects` that `filter` wants, from the one holding its position,
   * into batches of `batchSize` (live reads: at most that, flushed as soon as the reader has caught
   * up). Each batch is allocated at its size up front (up to PREALLOCATED_MAX) and filled by index:
   * growing it event by event allocated a tenth of a read's memory, and a read's time goes largely to
   * allocation. (The public reads delegate here directly: each generator in between cost every batch
   * another promise and turn.) `eager`: for reads that are seldom empty (OrderedRead.eager).
   */
  private async *readEvents(subjects: string, filter: EventFilter, batchSize: number, live: boolean, signal: AbortSignal | undefined, eager = false): AsyncIterable<StoredEvent[]> {
    const startSeq = await sequenceOfPosition(this.handles.jsm, this.layout.eventsStream, filter.fromPosition);
    // Live reads mostly flush a commit's few events: they start small and grow.
    const size = live ? 0 : Math.min(batchSize, PREALLOCATED_MAX);
    let out = new Array<StoredEvent>(size);
    let n = 0;
    const read = { stream: this.layout.eventsStream, filter: subjects, startSeq, live, eager, ...(signal === undefined ? {} : { signal }), chunk: Math.max(64, Math.min(batchSize, 4096)) };
    for await (const chunk of orderedChunks(this.handles.js, this.handles.jsm, read, this.reads)) {
      for (const msg of chunk) {
        n = decodeBatch(msg, msg.data, filter, out, n);
        if (n >= batchSize) {
          // Whole batches go out (the array itself when it holds exactly one); the rest starts the next.
          const all = out;
          const end = n;
          const whole = end - (end % batchSize);
          out = new Array<StoredEvent>(size);
          for (let i = whole; i < end; i++) out[i - whole] = all[i] as StoredEvent;
          n = end - whole;
          if (end === batchSize) yield all;
          else for (let from = 0; from < whole; from += batchSize) yield all.slice(from, from + batchSize);
        }
      }
      if (live && n > 0) {
        out.length = n;
        yield out;
        out = new Array<StoredEvent>(size);
        n = 0;
      }
    }
    if (n > 0 && !signal?.aborted) {
      out.length = n;
      yield out;
    }
  }

  // ---------------------------------------------------------------- snapshots

  async putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): Promise<void> {
    this.ensureOpen();
    await this.snapshots.put(snapshot);
  }

  async getSnapshot(query: SnapshotQuery): Promise<Snapshot | undefined> {
    this.ensureOpen();
    return this.snapshots.get(query);
  }

  async listSnapshots(filter?: SnapshotFilter): Promise<SnapshotInfo[]> {
    this.ensureOpen();
    return this.snapshots.list(filter);
  }

  // ---------------------------------------------------------------- statistics

  /** One pass over every event message's headers (no payloads): O(messages), fine for tools, not for hot paths. */
  async stats(): Promise<StoreStats> {
    this.ensureOpen();
    interface Acc {
      events: number;
      shards: Set<string>;
      minTime: number | null;
      maxTime: number | null;
      lastPosition: number;
    }
    const streams = new Map<string, Acc>();
    let events = 0;
    const chunks = orderedChunks(this.handles.js, this.handles.jsm, { stream: this.layout.eventsStream, filter: this.layout.allEvents, headersOnly: true, chunk: 4096 }, this.reads);
    for await (const chunk of chunks) {
      for (const msg of chunk as JsMsg[]) {
        const p = readPlacement(msg.subject, msg.seq, msg.headers);
        const name = this.layout.streamOf(msg.subject);
        let acc = streams.get(name);
        if (acc === undefined) streams.set(name, (acc = { events: 0, shards: new Set(), minTime: null, maxTime: null, lastPosition: 0 }));
        acc.events += p.count;
        acc.shards.add(msg.subject);
        if (p.minTime !== null) acc.minTime = acc.minTime === null ? p.minTime : Math.min(acc.minTime, p.minTime);
        if (p.maxTime !== null) acc.maxTime = acc.maxTime === null ? p.maxTime : Math.max(acc.maxTime, p.maxTime);
        acc.lastPosition = p.firstPosition + p.count - 1;
        events += p.count;
      }
    }
    const list: StreamStats[] = [...streams.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([stream, s]) => ({ stream, events: s.events, shards: s.shards.size, minTime: s.minTime, maxTime: s.maxTime, lastPosition: s.lastPosition }));
    const lastPosition = list.reduce((max, s) => Math.max(max, s.lastPosition), 0);
    return { events, lastPosition, streams: list, snapshots: await this.snapshots.count() };
  }

  // ---------------------------------------------------------------- lifecycle

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reads.stopAll();
    await this.writer.idle();
    await this.handles.nc.drain().catch(() => this.handles.nc.close());
  }

  /** Deletes the store's stream and bucket from the server, then closes. For tests and `spive` tooling. */
  async drop(): Promise<void> {
    this.ensureOpen();
    this.reads.stopAll();
    await this.writer.idle();
    await dropNats(this.handles, this.layout);
    await this.close();
  }
}

/** What a read from a global position (and maybe a time) wants. */
function positionFilter(fromPosition: number | undefined, fromTime: number | undefined): EventFilter {
  if ((fromPosition ?? 1) <= 1 && fromTime === undefined) return ALL_EVENTS;
  return { fromPosition: fromPosition ?? 1, fromSeq: 1, fromTime: fromTime ?? Number.NEGATIVE_INFINITY };
}

/** A shard's head from the newest message on its subject. */
function shardHead(head: SubjectHead): ShardHead {
  const p = head.placement;
  if (p === undefined) return EMPTY_SHARD;
  return { lastSeq: p.firstSeq + p.count - 1, lastTime: p.lastTime };
}
