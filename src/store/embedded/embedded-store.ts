/**
 * The embedded event store: the default for users, durable on local disk.
 *
 * Layout of a store folder (see docs/embedded-store.md):
 *   FORMAT                      format name and version
 *   LOCK                        who holds the store open for writing
 *   wal/0000000001.log          write-ahead log segments: checksummed frames of records
 *   columns/0000000001.json     manifest of a sealed segment (its presence marks the segment sealed)
 *   columns/stream=S/….arrow    typed columns of stream S in that segment (Arrow IPC)
 *   parquet/stream=S/….parquet  the same events as Parquet, for DuckDB
 *
 * Durability: appends are acknowledged only after their frame is written and fsynced. Concurrent
 * appends share one write and one fsync (group commit). A failed write or fsync poisons the store:
 * every later call fails, because the state of the file is then unknown (no retrying fsync).
 */
import { resolve } from 'node:path';
import { ClosedError, CorruptDataError, InvalidInputError, NotFoundError } from '../../model/errors.ts';
import type { NewEvent, ShardHead, Snapshot, SnapshotInfo, StoredEvent } from '../../model/event.ts';
import { realClock, type Clock } from '../../time/clock.ts';
import { assert } from '../../util/assert.ts';
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
  SealedHistoryFile,
  SnapshotFilter,
  SnapshotQuery,
  StoreStats,
  SubscribeOptions,
} from '../event-store.ts';
import { snapshotInfo } from '../memory/memory-store.ts';
import { SnapshotIndex } from '../snapshot-index.ts';
import { PendingAppends, StoreState } from '../store-state.ts';
import { CommitSignal, subscribeWith } from '../subscription.ts';
import {
  encodeData,
  validateAppendOptions,
  validateBatchSize,
  validateEvents,
  validateKey,
  validateRange,
  validateStream,
  validateTtl,
} from '../validate.ts';
import { ColumnFileReads, ScanBufferPool } from './column-reads.ts';
import { scanIsShared } from '../scan-buffers.ts';
import { ColumnLayoutCache } from './column-layout.ts';
import { closeParquetSession } from './parquet-writer.ts';
import type { ColumnFileInfo } from './columnar-segment.ts';
import { mkdirpDurable, writeFileAtomic, type FileHandle, type FileSystem } from './file-system.ts';
import { FrameIndex, type FrameLocation } from './frame-index.ts';
import { LockFile } from './lock-file.ts';
import { nodeFileSystem } from './node-file-system.ts';
import { sealSegment, type SegmentManifest } from './sealer.ts';
import { checkFrame, encodeFrame } from './wal-frame.ts';
import { decodeEventsPayload, decodeRecord, encodeRecord, eventsPayload, RecordKind } from './wal-records.ts';
import { recoverWal, segmentName } from './wal-recovery.ts';

export const STORE_FORMAT = { format: 'spive-embedded', version: 1 } as const;

/** Reads of consecutive frames are coalesced up to this many bytes… */
const READ_WINDOW = 1 << 20;
/** …and this many frames. */
const MAX_FRAMES_PER_READ = 4096;

export interface EmbeddedStoreOptions {
  /** File-system layer (default: the real one). The simulator passes a simulated disk. */
  readonly fs?: FileSystem;
  /** Time source for lease expiry and the lock file (default: the real clock). */
  readonly clock?: Clock;
  /** A WAL segment is sealed and a new one started past this size (default 64 MiB). */
  readonly segmentBytes?: number;
  /** Seal full segments into Arrow + Parquet in the background (default true). */
  readonly autoSeal?: boolean;
  /** Also write Parquet when sealing (default true; needs the real file system). */
  readonly parquet?: boolean;
  /** Open for reading only: no lock, no writes, a torn tail is ignored rather than truncated. */
  readonly readOnly?: boolean;
  /** Take the lock file (default: true with the real file system). */
  readonly lock?: boolean;
  /** Who is opening, recorded in the lock file (default `spive`). */
  readonly command?: string;
  /** Where warnings go (default: stderr). */
  readonly warn?: (message: string) => void;
}

/** Part of a column scan (scanColumns): a sealed segment's column file, or an unsealed segment's frames of the stream. */
interface ColumnPart {
  readonly info: ColumnFileInfo | undefined;
  readonly frames: readonly number[];
}

interface Prepared {
  readonly body: Uint8Array;
  publish(at: FrameLocation): unknown;
}

/** Returned by a barrier's prepare to ask for a segment rotation instead of a record. */
const ROTATE = Symbol('rotate');

interface CommitOp {
  /** A barrier runs alone in its group, so it plans against fully applied state. */
  readonly barrier: boolean;
  prepare(pending: PendingAppends): Prepared | typeof ROTATE;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class EmbeddedStore implements EventStore {
  readonly location: string;
  private readonly state = new StoreState();
  private readonly frames = new FrameIndex();
  private readonly snapshots = new SnapshotIndex<FrameLocation>();
  private readonly commits = new CommitSignal();
  private readonly readers = new Map<number, Promise<FileHandle>>();
  private readonly sealed = new Map<number, SegmentManifest>();
  /** Column scans' read buffers, kept between scans (column-reads.ts). */
  private readonly scanBuffers = new ScanBufferPool();
  /** Layouts of sealed column files read so far (column-layout.ts). */
  private readonly columnLayouts = new ColumnLayoutCache();
  /** Bodies of the most recently committed events records (already durable), by frame id. */
  private readonly tail = new TailCache(32 * 1024 * 1024);
  private queue: CommitOp[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private flushRunning = false;
  private sealing: Promise<void> = Promise.resolve();
  private sealError: unknown;
  private failure: unknown;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly fs: FileSystem,
    private readonly clock: Clock,
    private readonly options: EmbeddedStoreOptions,
    private readonly lock: LockFile | undefined,
    private activeSegment: number,
    private active: FileHandle | undefined,
    private activeSize: number,
  ) {
    this.location = `file:${dir}`;
  }

  static async open(dir: string, options: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
    const fs = options.fs ?? nodeFileSystem;
    const clock = options.clock ?? realClock;
    const warn = options.warn ?? ((m: string) => process.stderr.write(`spive: warning: ${m}\n`));
    if (options.segmentBytes !== undefined && !(Number.isSafeInteger(options.segmentBytes) && options.segmentBytes >= 4096)) {
      throw new InvalidInputError('segmentBytes', 'an integer >= 4096', options.segmentBytes);
    }
    // The folders' names must be durable too, or a power cut can take the whole store or wal/ with it.
    if (!options.readOnly) await mkdirpDurable(fs, dir);
    await checkFormat(fs, dir, options.readOnly === true);
    if (!options.readOnly) await mkdirpDurable(fs, `${dir}/wal`);
    const useLock = !options.readOnly && (options.lock ?? fs === nodeFileSystem);
    const lock = useLock
      ? LockFile.acquire(`${dir}/LOCK`, { since: new Date(clock.nowMs()).toISOString(), command: options.command ?? 'spive' }, warn)
      : undefined;
    try {
      const store = new EmbeddedStore(dir, fs, clock, { ...options, warn }, lock, 1, undefined, 0);
      await store.recover();
      return store;
    } catch (e) {
      lock?.release();
      throw e;
    }
  }

  // ---------------------------------------------------------------- recovery

  private async recover(): Promise<void> {
    const { segments, lastSize } = await recoverWal(this.fs, this.dir, {
      readOnly: this.options.readOnly === true,
      warn: this.warn,
      apply: (record, at) => this.applyRecord(record, at),
    });
    this.activeSegment = segments.length > 0 ? (segments[segments.length - 1] as number) : 1;
    this.activeSize = segments.length > 0 ? lastSize : 0;
    for (const name of await this.fs.list(`${this.dir}/columns`)) {
      const m = /^(\d{10})\.json$/.exec(name);
      if (m === null) continue;
      const path = `${this.dir}/columns/${name}`;
      let manifest: SegmentManifest;
      try {
        manifest = JSON.parse(new TextDecoder().decode(await this.fs.readFile(path))) as SegmentManifest;
      } catch (e) {
        throw new CorruptDataError(path, 0, `unreadable segment manifest (${String(e)}); remove it and the store reseals the segment from the WAL`);
      }
      this.sealed.set(Number(m[1]), manifest);
    }
    if (this.options.readOnly) return;
    // Only the process holding the write lock takes leases, so leases found on open belong to a
    // previous holder (which stopped or crashed): they may be taken over at once. Fencing stays.
    if (this.lock !== undefined) this.state.expireAllLeases();
    this.active = await this.fs.open(`${this.dir}/wal/${segmentName(this.activeSegment)}`, { create: true });
    if (segments.length === 0) await this.fs.syncDir(`${this.dir}/wal`);
    if (this.options.autoSeal !== false) {
      for (const segment of segments) if (segment !== this.activeSegment && !this.sealed.has(segment)) this.scheduleSeal(segment);
    }
  }

  private applyRecord(record: ReturnType<typeof decodeRecord>, at: FrameLocation): void {
    switch (record.kind) {
      case RecordKind.Events: {
        const m = record.meta;
        const plan = this.state.nextPlacement(m.s, m.k);
        if (plan.firstPosition !== m.p || plan.firstSeq !== m.q) {
          throw new CorruptDataError(`${this.dir}/wal/${segmentName(at.segment)}`, at.offset, `events record at position ${m.p} seq ${m.q} does not follow position ${plan.firstPosition - 1}, seq ${plan.firstSeq - 1}`);
        }
        this.state.applyAppend({ stream: m.s, key: m.k, firstSeq: m.q, firstPosition: m.p, count: m.n, minTime: m.lo, lastTime: m.lt }, m.hi);
        this.frames.add(m, at);
        return;
      }
      case RecordKind.Lease:
        this.state.applyLease(record.meta);
        return;
      case RecordKind.Release:
        this.state.applyRelease(record.meta.stream, record.meta.token);
        return;
      case RecordKind.Snapshot:
        this.snapshots.put(record.meta, at);
        return;
    }
  }

  // ---------------------------------------------------------------- group commit

  private ensureWritable(): void {
    if (this.failure !== undefined) throw new ClosedError(`the store at ${this.dir} stopped after a failed write: ${String(this.failure)}`);
    if (this.closed) throw new ClosedError();
    if (this.options.readOnly) throw new InvalidInputError('store', 'a store opened for writing (this one is read-only)');
  }

  private submit<T>(barrier: boolean, prepare: (pending: PendingAppends) => Prepared | typeof ROTATE): Promise<T> {
    this.ensureWritable();
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ barrier, prepare, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushRunning) {
        this.flushRunning = true;
        this.flushing = this.flush();
      }
    });
  }

  /**
   * Drains the queue. `drain` itself clears `flushRunning` with no await after its last emptiness
   * check. Clearing it again here after a normal return would be wrong: a submit in the microtask gap
   * may already have started the next flush, and a third would then run beside it (two drains writing
   * at the same offset). So it is cleared here only when `drain` threw.
   */
  private async flush(): Promise<void> {
    try {
      await this.drain();
    } catch (e) {
      this.flushRunning = false;
      throw e;
    }
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        // No await between this check and the caller's finally: a submit now starts a new flush.
        this.flushRunning = false;
        return;
      }
      const group = this.takeGroup();
      if (this.failure !== undefined) {
        for (const op of group) op.reject(new ClosedError(`the store stopped after a failed write: ${String(this.failure)}`));
        continue;
      }
      if (group.length === 1 && group[0]?.barrier) {
        const op = group[0];
        try {
          const record = op.prepare(new PendingAppends(this.state));
          if (record === ROTATE) {
            if (this.activeSize > 0) await this.rotate();
            op.resolve(undefined);
            continue;
          }
          group[0] = { ...op, prepare: () => record };
        } catch (e) {
          if (!(e instanceof Error && 'code' in e)) this.failure = e;
          op.reject(e);
          continue;
        }
      }
      const pending = new PendingAppends(this.state);
      const prepared: Array<{ op: CommitOp; record: Prepared; frame: Uint8Array }> = [];
      for (const op of group) {
        try {
          const record = op.prepare(pending);
          assert(record !== ROTATE, 'rotation is requested only by a barrier');
          prepared.push({ op, record, frame: encodeFrame(record.body) });
        } catch (e) {
          op.reject(e);
        }
      }
      if (prepared.length === 0) continue;
      let total = 0;
      for (const p of prepared) total += p.frame.byteLength;
      try {
        if (this.activeSize > 0 && this.activeSize + total > (this.options.segmentBytes ?? 64 * 1024 * 1024)) {
          await this.rotate();
        }
        const buffer = new Uint8Array(total);
        let o = 0;
        for (const p of prepared) {
          buffer.set(p.frame, o);
          o += p.frame.byteLength;
        }
        const active = this.active;
        assert(active !== undefined, 'a writable store has an active segment');
        await active.write(buffer, this.activeSize);
        await active.sync();
      } catch (e) {
        this.failure = e;
        for (const p of prepared) p.op.reject(new ClosedError(`write to ${this.dir} failed; the store stopped: ${String(e)}`));
        continue;
      }
      let offset = this.activeSize;
      this.activeSize += total;
      for (const p of prepared) {
        const at = { segment: this.activeSegment, offset, length: p.frame.byteLength };
        offset += p.frame.byteLength;
        p.op.resolve(p.record.publish(at));
      }
      this.commits.notify();
    }
  }

  private takeGroup(): CommitOp[] {
    const first = this.queue[0];
    if (first?.barrier) return this.queue.splice(0, 1);
    const end = this.queue.findIndex((op) => op.barrier);
    return this.queue.splice(0, end < 0 ? this.queue.length : end);
  }

  private async rotate(): Promise<void> {
    const old = this.activeSegment;
    const next = await this.fs.open(`${this.dir}/wal/${segmentName(old + 1)}`, { create: true });
    await this.fs.syncDir(`${this.dir}/wal`);
    await this.active?.close();
    this.active = next;
    this.activeSegment = old + 1;
    this.activeSize = 0;
    if (this.options.autoSeal !== false) this.scheduleSeal(old);
  }

  // ---------------------------------------------------------------- sealing

  private scheduleSeal(segment: number): void {
    this.sealing = this.sealing.then(async () => {
      if (this.sealed.has(segment) || this.closed) return;
      try {
        const manifest = await sealSegment({
          fs: this.fs,
          dir: this.dir,
          segment,
          parquet: this.options.parquet ?? this.fs === nodeFileSystem,
          events: () => this.segmentEvents(segment),
        });
        this.sealed.set(segment, manifest);
      } catch (e) {
        this.sealError ??= e;
        this.warn(`sealing segment ${segment} failed (it stays readable from the WAL): ${String(e)}`);
      }
    });
  }

  /** Rotates the active segment (if it holds anything) and waits until every full segment is sealed. */
  async seal(): Promise<void> {
    await this.submit<void>(true, () => ROTATE);
    for (const [segment] of await this.segmentsWithEvents()) if (segment !== this.activeSegment && !this.sealed.has(segment)) this.scheduleSeal(segment);
    await this.sealing;
    if (this.sealError !== undefined) throw this.sealError;
  }

  private async segmentsWithEvents(): Promise<Map<number, number[]>> {
    const bySegment = new Map<number, number[]>();
    for (let id = 0; id < this.frames.size; id++) {
      const segment = this.frames.segment[id] as number;
      const list = bySegment.get(segment);
      if (list === undefined) bySegment.set(segment, [id]);
      else list.push(id);
    }
    return bySegment;
  }

  private async *segmentEvents(segment: number): AsyncIterable<StoredEvent[]> {
    for (let id = 0; id < this.frames.size; id++) {
      if (this.frames.segment[id] === segment) yield await this.readFrame(id);
    }
  }

  /** Writes the running instance's endpoint into the lock file, so other commands hand it their work. */
  advertise(endpoint: string): void {
    this.lock?.advertise(endpoint);
  }

  /** Sealed segments' manifests, in segment order (for tools that read the columnar files). */
  sealedSegments(): SegmentManifest[] {
    return [...this.sealed.entries()].sort(([a], [b]) => a - b).map(([, m]) => m);
  }

  sealedHistory(): SealedHistoryFile[] {
    const files: SealedHistoryFile[] = [];
    for (const manifest of this.sealedSegments()) {
      for (const s of manifest.streams) {
        if (s.parquet === null) continue;
        files.push({ stream: s.stream, path: resolve(this.dir, s.parquet), rows: s.rows, firstPosition: s.firstPosition, lastPosition: s.lastPosition, minTime: s.minTime, maxTime: s.maxTime });
      }
    }
    return files;
  }

  // ---------------------------------------------------------------- writes

  append(stream: string, key: string, events: readonly NewEvent<unknown>[], options?: AppendOptions): Promise<AppendResult> {
    try {
      this.ensureWritable();
      validateStream(stream);
      validateKey(key);
      validateEvents(events);
      validateAppendOptions(options);
    } catch (e) {
      return Promise.reject(e);
    }
    const dataTexts = events.map((e, i) => encodeData(e.data, `events[${i}].data`));
    const metaTexts = events.map((e, i) => (e.meta === undefined ? undefined : encodeData(e.meta, `events[${i}].meta`)));
    let maxTime = Number.NEGATIVE_INFINITY;
    for (const e of events) if (e.time > maxTime) maxTime = e.time;
    return this.submit<AppendResult>(false, (pending) => {
      const plan = this.state.planAppend(stream, key, events, options, pending);
      pending.add(plan);
      const meta = { s: stream, k: key, q: plan.firstSeq, p: plan.firstPosition, n: plan.count, lo: plan.minTime, hi: maxTime, lt: plan.lastTime };
      const body = encodeRecord(RecordKind.Events, meta, eventsPayload(events, dataTexts, metaTexts));
      return {
        body,
        publish: (at) => {
          this.state.applyAppend(plan, maxTime);
          this.frames.add(meta, at);
          this.tail.put(this.frames.size - 1, body);
          return {
            firstSeq: plan.firstSeq,
            lastSeq: plan.firstSeq + plan.count - 1,
            firstPosition: plan.firstPosition,
            lastPosition: plan.firstPosition + plan.count - 1,
          };
        },
      };
    });
  }

  acquireLease(request: LeaseRequest): Promise<Lease> {
    try {
      validateStream(request.stream, 'request.stream');
      validateRange(request.range, 'request.range');
      validateTtl(request.ttlMs);
      if (typeof request.owner !== 'string' || request.owner === '') {
        throw new InvalidInputError('request.owner', 'a non-empty owner name', request.owner);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return this.submit<Lease>(true, () => {
      const lease = this.state.planAcquire(request, this.clock.nowMs());
      return { body: encodeRecord(RecordKind.Lease, lease), publish: () => (this.state.applyLease(lease), lease) };
    });
  }

  renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    try {
      validateTtl(ttlMs);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.submit<Lease>(true, () => {
      const renewed = this.state.planRenew(lease, ttlMs, this.clock.nowMs());
      return { body: encodeRecord(RecordKind.Lease, renewed), publish: () => (this.state.applyLease(renewed), renewed) };
    });
  }

  async releaseLease(lease: Lease): Promise<void> {
    if (!this.state.planRelease(lease)) return;
    await this.submit<void>(true, () => ({
      body: encodeRecord(RecordKind.Release, { stream: lease.stream, token: lease.token }),
      publish: () => this.state.applyRelease(lease.stream, lease.token),
    }));
  }

  putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): Promise<void> {
    let info: SnapshotInfo;
    try {
      info = snapshotInfo(snapshot);
    } catch (e) {
      return Promise.reject(e);
    }
    const data = snapshot.data.slice();
    return this.submit<void>(false, () => ({
      body: encodeRecord(RecordKind.Snapshot, info, data),
      publish: (at) => this.snapshots.put(info, at),
    }));
  }

  // ---------------------------------------------------------------- reads

  async head(stream: string, key: string): Promise<ShardHead> {
    validateStream(stream);
    validateKey(key);
    return this.state.head(stream, key);
  }

  private reader(segment: number): Promise<FileHandle> {
    let handle = this.readers.get(segment);
    if (handle === undefined) {
      handle = this.fs.open(`${this.dir}/wal/${segmentName(segment)}`, { create: false });
      this.readers.set(segment, handle);
    }
    return handle;
  }

  private async readBody(at: FrameLocation): Promise<Uint8Array> {
    const file = `${this.dir}/wal/${segmentName(at.segment)}`;
    const bytes = await (await this.reader(at.segment)).read(at.offset, at.length);
    const check = checkFrame(bytes, 0);
    if (!check.ok) throw new CorruptDataError(file, at.offset, check.reason);
    return check.body;
  }

  private async readFrame(id: number): Promise<StoredEvent[]> {
    const at = { segment: this.frames.segment[id] as number, offset: this.frames.offset[id] as number, length: this.frames.length[id] as number };
    // Subscribers mostly read what was just written: serve it from memory, not through the thread
    // pool (where reads would queue behind fsyncs).
    return this.decodeFrame(id, this.tail.get(id) ?? (await this.readBody(at)));
  }

  private decodeFrame(id: number, body: Uint8Array): StoredEvent[] {
    let tuples;
    try {
      const record = decodeRecord(body);
      if (record.kind !== RecordKind.Events) throw new RangeError('not an events record');
      tuples = decodeEventsPayload(record.payload);
    } catch (e) {
      const at = { segment: this.frames.segment[id] as number, offset: this.frames.offset[id] as number };
      throw new CorruptDataError(`${this.dir}/wal/${segmentName(at.segment)}`, at.offset, `undecodable events record: ${String(e)}`);
    }
    const stream = this.frames.stream[id] as string;
    const key = this.frames.key[id] as string;
    const seq = this.frames.firstSeq[id] as number;
    const position = this.frames.firstPosition[id] as number;
    return tuples.map(([time, type, data, meta], i) =>
      meta === undefined
        ? { stream, key, seq: seq + i, position: position + i, time, type, data: data as never }
        : { stream, key, seq: seq + i, position: position + i, time, type, data: data as never, meta: meta as never },
    );
  }

  /**
   * Frames `ids[from..]` read together: a run of frames of one segment lying within READ_WINDOW bytes
   * is fetched with one read (one trip through the thread pool instead of one per frame), then each
   * frame is checked and decoded. Returns the decoded frames and how many ids it covered.
   */
  private async readFrameRun(idAt: (i: number) => number, from: number, until: number): Promise<{ frames: StoredEvent[][]; count: number }> {
    const first = idAt(from);
    const segment = this.frames.segment[first] as number;
    const start = this.frames.offset[first] as number;
    let end = start + (this.frames.length[first] as number);
    let j = from + 1;
    while (j < until && j - from < MAX_FRAMES_PER_READ) {
      const id = idAt(j);
      const offset = this.frames.offset[id] as number;
      const frameEnd = offset + (this.frames.length[id] as number);
      if (this.frames.segment[id] !== segment || offset < start || frameEnd - start > READ_WINDOW || this.tail.get(id) !== undefined) break;
      end = Math.max(end, frameEnd);
      j++;
    }
    if (j - from === 1) return { frames: [await this.readFrame(first)], count: 1 };
    const bytes = await (await this.reader(segment)).read(start, end - start);
    const frames: StoredEvent[][] = [];
    for (let k = from; k < j; k++) {
      const id = idAt(k);
      const offset = (this.frames.offset[id] as number) - start;
      const check = checkFrame(bytes.subarray(offset, offset + (this.frames.length[id] as number)), 0);
      if (!check.ok) throw new CorruptDataError(`${this.dir}/wal/${segmentName(segment)}`, offset + start, check.reason);
      frames.push(this.decodeFrame(id, check.body));
    }
    return { frames, count: j - from };
  }

  private async *readFrames(
    ids: readonly number[] | undefined,
    start: number,
    batchSize: number,
    keep: (e: StoredEvent) => boolean,
  ): AsyncIterable<StoredEvent[]> {
    let batch: StoredEvent[] = [];
    const idAt = ids === undefined ? (i: number) => i : (i: number) => ids[i] as number;
    // Re-reading the length each turn lets a long read see commits that land meanwhile.
    for (let i = start; i < (ids === undefined ? this.frames.size : ids.length); ) {
      const run = await this.readFrameRun(idAt, i, ids === undefined ? this.frames.size : ids.length);
      i += run.count;
      for (const frame of run.frames) {
        for (const e of frame) {
          if (!keep(e)) continue;
          batch.push(e);
          if (batch.length === batchSize) {
            yield batch;
            batch = [];
          }
        }
      }
    }
    if (batch.length > 0) yield batch;
  }

  async *readShard(stream: string, key: string, options?: ReadShardOptions): AsyncIterable<StoredEvent[]> {
    validateStream(stream);
    validateKey(key);
    const batchSize = validateBatchSize(options?.batchSize);
    const fromSeq = options?.fromSeq ?? 1;
    const fromTime = options?.fromTime ?? Number.NEGATIVE_INFINITY;
    const ids = this.frames.shardFrames(stream, key);
    yield* this.readFrames(ids, this.frames.firstFrameAtSeq(ids, fromSeq), batchSize, (e) => e.seq >= fromSeq && e.time >= fromTime);
  }

  async *readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<StoredEvent[]> {
    validateStream(stream);
    const batchSize = validateBatchSize(options?.batchSize);
    const from = options?.fromPosition ?? 1;
    const fromTime = options?.fromTime ?? Number.NEGATIVE_INFINITY;
    const ids = this.frames.streamFrames(stream);
    yield* this.readFrames(ids, this.frames.firstFrameAtPosition(ids, from), batchSize, (e) => e.position >= from && e.time >= fromTime);
  }

  async *readAll(options?: { fromPosition?: number; batchSize?: number }): AsyncIterable<StoredEvent[]> {
    const batchSize = validateBatchSize(options?.batchSize);
    const from = options?.fromPosition ?? 1;
    yield* this.readFrames(undefined, this.frames.firstFrameAtPosition(undefined, from), batchSize, (e) => e.position >= from);
  }

  subscribe(options?: SubscribeOptions): AsyncIterable<StoredEvent[]> {
    return subscribeWith(options, this.commits, () => this.state.lastPosition, (stream) =>
      stream === undefined
        ? (from, batchSize) => this.readAll({ fromPosition: from, batchSize })
        : (from, batchSize) => this.readStream(stream, { fromPosition: from, batchSize }),
    );
  }

  /**
   * Sealed segments come from their Arrow files (zero-copy), each read while the consumer works on the
   * batch before it (column-reads.ts); the unsealed rest is decoded from the WAL.
   */
  async *scanColumns(stream: string, options?: ScanColumnsOptions): AsyncIterable<ColumnBatch> {
    validateStream(stream);
    const parts = this.columnParts(stream);
    const reads = new ColumnFileReads(this.fs, scanIsShared(options), this.scanBuffers, this.columnLayouts, options?.buffers);
    const pathOf = (info: ColumnFileInfo) => `${this.dir}/${info.file}`;
    let ahead: Promise<ColumnBatch> | undefined; // the read of the next part, when it is a column file
    try {
      for (let p = 0; p < parts.length; p++) {
        const { info, frames } = parts[p] as ColumnPart;
        if (info !== undefined) {
          const reading = ahead ?? reads.start(pathOf(info), info, options?.fields);
          ahead = undefined;
          const batch = await reading;
          const next = parts[p + 1]?.info;
          if (next !== undefined) ahead = reads.start(pathOf(next), next, options?.fields);
          yield batch;
        } else {
          let events: StoredEvent[] = [];
          for (const id of frames) {
            events.push(...(await this.readFrame(id)));
            if (events.length >= 65536) {
              yield columnsFromEvents(stream, events, options?.fields);
              events = [];
            }
          }
          if (events.length > 0) yield columnsFromEvents(stream, events, options?.fields);
        }
      }
    } finally {
      await ahead?.catch(() => undefined); // a scan stopped early: its buffer is not written after it returns
      reads.release(ahead !== undefined);
    }
  }

  /** A stream's frames in order, by segment: a sealed segment's column file, or an unsealed one's frame ids. */
  private columnParts(stream: string): ColumnPart[] {
    const ids = this.frames.streamFrames(stream);
    const parts: ColumnPart[] = [];
    let i = 0;
    while (i < ids.length) {
      const segment = this.frames.segment[ids[i] as number] as number;
      let end = i;
      while (end < ids.length && this.frames.segment[ids[end] as number] === segment) end++;
      const info = this.sealed.get(segment)?.streams.find((s) => s.stream === stream);
      parts.push(info !== undefined ? { info, frames: [] } : { info: undefined, frames: ids.slice(i, end) });
      i = end;
    }
    return parts;
  }

  async getSnapshot(query: SnapshotQuery): Promise<Snapshot | undefined> {
    const found = this.snapshots.find(query);
    if (found === undefined) return undefined;
    const body = await this.readBody(found.locator);
    const record = decodeRecord(body);
    if (record.kind !== RecordKind.Snapshot) {
      throw new CorruptDataError(`${this.dir}/wal/${segmentName(found.locator.segment)}`, found.locator.offset, 'expected a snapshot record');
    }
    return { ...found.info, data: new Uint8Array(record.payload) };
  }

  async listSnapshots(filter?: SnapshotFilter): Promise<SnapshotInfo[]> {
    return this.snapshots.list(filter);
  }

  async stats(): Promise<StoreStats> {
    return {
      events: this.state.lastPosition,
      lastPosition: this.state.lastPosition,
      streams: this.state.streamStats(),
      snapshots: this.snapshots.size,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushing;
    this.closed = true;
    this.commits.close();
    await this.sealing;
    // Sealing shares one DuckDB instance per thread (parquet-writer.ts); it goes unless another store is writing with it.
    await closeParquetSession();
    await this.active?.close();
    for (const handle of this.readers.values()) await (await handle).close();
    this.readers.clear();
    this.scanBuffers.clear();
    this.columnLayouts.clear();
    this.lock?.release();
  }

  private readonly warn = (message: string): void => (this.options.warn ?? (() => undefined))(message);
}

async function checkFormat(fs: FileSystem, dir: string, readOnly: boolean): Promise<void> {
  const path = `${dir}/FORMAT`;
  if (await fs.exists(path)) {
    let format: unknown;
    try {
      format = JSON.parse(new TextDecoder().decode(await fs.readFile(path)));
    } catch {
      throw new CorruptDataError(path, 0, 'FORMAT is not JSON');
    }
    const f = format as { format?: unknown; version?: unknown };
    if (f.format !== STORE_FORMAT.format) throw new InvalidInputError('store', `a folder holding a Spive embedded store (${path} names format ${JSON.stringify(f.format)})`);
    if (f.version !== STORE_FORMAT.version) {
      throw new InvalidInputError('store', `store format version ${STORE_FORMAT.version} (${path} says ${JSON.stringify(f.version)}; this Spive cannot read it)`);
    }
    return;
  }
  if (readOnly) throw new NotFoundError(`embedded store at ${dir}`);
  // FORMAT.tmp is what a crash during the very first open leaves behind; writing FORMAT replaces it.
  const entries = (await fs.list(dir)).filter((n) => n !== 'wal' && n !== 'LOCK' && n !== 'FORMAT.tmp');
  if (entries.length > 0) {
    throw new InvalidInputError('store', `an empty folder or a Spive store, but ${dir} holds other files (${entries.slice(0, 3).join(', ')})`);
  }
  await writeFileAtomic(fs, dir, 'FORMAT', new TextEncoder().encode(`${JSON.stringify(STORE_FORMAT)}\n`));
}

/** The newest frame bodies, up to a byte budget; the oldest are dropped first. */
class TailCache {
  private readonly bodies = new Map<number, Uint8Array>();
  /** Ids in insertion order from `oldest` on: evicting by iterating the Map would rescan its deleted entries every time. */
  private order: number[] = [];
  private oldest = 0;
  private bytes = 0;
  constructor(private readonly budgetBytes: number) {}

  put(id: number, body: Uint8Array): void {
    const replaced = this.bodies.get(id);
    if (replaced !== undefined) this.bytes -= replaced.byteLength;
    else this.order.push(id);
    this.bodies.set(id, body);
    this.bytes += body.byteLength;
    while (this.bytes > this.budgetBytes && this.oldest < this.order.length) {
      const old = this.order[this.oldest++] as number;
      const b = this.bodies.get(old);
      if (b !== undefined) {
        this.bodies.delete(old);
        this.bytes -= b.byteLength;
      }
    }
    if (this.oldest > 4096 && this.oldest * 2 > this.order.length) {
      this.order = this.order.slice(this.oldest);
      this.oldest = 0;
    }
  }

  get(id: number): Uint8Array | undefined {
    return this.bodies.get(id);
  }
}
