/**
 * Bulk loading of a new embedded store: millions of already-placed batches and snapshots written as
 * WAL frames in large sequential writes, one fsync per segment, instead of one promise, one plan and
 * one group commit per append. For tools that build a whole history offline (`spive dataset
 * generate`); a live writer uses `EmbeddedStore.append`.
 *
 * The result is an ordinary store: the WAL (same frames, same records, same segment rotation rule)
 * stays the source of truth, and `EmbeddedStore.open` recovers it — checking every checksum and that
 * positions and seqs follow on — exactly as it recovers any store. Full segments are sealed to Arrow
 * and Parquet from the events in memory (the sealer would otherwise read every frame back), and the
 * last one is sealed too after rotating to a fresh empty segment, as `EmbeddedStore.seal()` does.
 *
 * The writer trusts its caller to place events (positions contiguous across the store, seqs per
 * shard) and checks it; it does not take leases, so it is for a store nobody else writes.
 */
import { crc32 } from 'node:zlib';
import { InvalidInputError } from '../../model/errors.ts';
import type { Snapshot, StoredEvent } from '../../model/event.ts';
import { realClock, type Clock } from '../../time/clock.ts';
import { assert } from '../../util/assert.ts';
import { snapshotInfo } from '../memory/memory-store.ts';
import { validateKey, validateStream } from '../validate.ts';
import { EmbeddedStore } from './embedded-store.ts';
import type { FileHandle, FileSystem } from './file-system.ts';
import { LockFile } from './lock-file.ts';
import { nodeFileSystem } from './node-file-system.ts';
import { ColumnBuilder } from './column-builder.ts';
import { sealColumns } from './sealer.ts';
import { FRAME_HEADER_BYTES, FRAME_MAGIC } from './wal-frame.ts';
import { eventsPayload, RecordKind } from './wal-records.ts';
import { segmentName } from './wal-recovery.ts';

export interface BulkWriterOptions {
  readonly fs?: FileSystem;
  /** Segment size, as for the store (default 64 MiB). */
  readonly segmentBytes?: number;
  /** Seal every segment to Arrow (and Parquet) at the end (default true). */
  readonly seal?: boolean;
  /** Also write Parquet when sealing (default true with the real file system). */
  readonly parquet?: boolean;
  /** Who is writing, recorded in the lock file. */
  readonly command?: string;
  /** Time source for the lock file (default: the real clock). */
  readonly clock?: Clock;
  readonly warn?: (message: string) => void;
}

/** One append: events already placed, with their payloads (and metas) serialized. */
export interface BulkBatch {
  readonly stream: string;
  readonly key: string;
  readonly events: readonly StoredEvent[];
  readonly dataTexts: readonly string[];
  readonly metaTexts: ReadonlyArray<string | undefined>;
}

export interface BulkWriteSummary {
  readonly events: number;
  readonly snapshots: number;
  readonly frames: number;
  readonly walBytes: number;
  /** WAL segments holding records (all sealed when `seal` is on). */
  readonly segments: number;
}

const CHUNK_BYTES = 8 * 1024 * 1024;

/** Bytes queued for one segment, or the end of a segment (with its columns, for sealing). */
type Pending = { readonly segment: number; readonly bytes: Uint8Array } | { readonly segment: number; readonly end: true; readonly columns: ColumnBuilder[] };

export class BulkWriter {
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private pieceStart = 0;
  private readonly pending: Pending[] = [];
  private pendingBytes = 0;
  /** Segment receiving frames now, and its size counting frames not yet written. */
  private segment = 1;
  private segmentSize = 0;
  /**
   * The current segment's events in columns per stream, with their JSON texts, for sealing: built as
   * batches arrive, so no event object outlives its batch and sealing neither re-reads nor re-serializes.
   */
  private segmentColumns = new Map<string, ColumnBuilder>();
  /** Segment and offset of the file handle, which trails `segment` until flushed. */
  private fileSegment = 1;
  private fileOffset = 0;
  /** Last seq per key, per stream. */
  private readonly seqs = new Map<string, Map<string, number>>();
  private lastPosition = 0;
  private events = 0;
  private snapshots = 0;
  private frames = 0;
  private walBytes = 0;
  private sealing: Promise<void> = Promise.resolve();
  private sealsQueued = 0;
  private finished = false;

  private constructor(
    readonly dir: string,
    private readonly fs: FileSystem,
    private readonly options: BulkWriterOptions,
    private readonly lock: LockFile | undefined,
    private file: FileHandle,
  ) {}

  /** Creates a store at `dir`, which must not exist yet or be an empty folder. */
  static async create(dir: string, options: BulkWriterOptions = {}): Promise<BulkWriter> {
    const fs = options.fs ?? nodeFileSystem;
    if (options.segmentBytes !== undefined && !(Number.isSafeInteger(options.segmentBytes) && options.segmentBytes >= 4096)) {
      throw new InvalidInputError('segmentBytes', 'an integer >= 4096', options.segmentBytes);
    }
    const existing = await fs.list(dir);
    if (existing.length > 0) throw new InvalidInputError('dir', `a new or empty folder for the store (${dir} holds ${existing.slice(0, 3).join(', ')})`, dir);
    const warn = options.warn ?? ((m: string) => process.stderr.write(`spive: warning: ${m}\n`));
    // Opening once lays the store out (FORMAT, wal/, the first segment) the one way the store does it.
    const store = await EmbeddedStore.open(dir, { fs, autoSeal: false, lock: false, warn });
    await store.close();
    const lock = fs === nodeFileSystem ? LockFile.acquire(`${dir}/LOCK`, { since: new Date((options.clock ?? realClock).nowMs()).toISOString(), command: options.command ?? 'spive bulk load' }, warn) : undefined;
    try {
      const file = await fs.open(`${dir}/wal/${segmentName(1)}`, { create: true });
      return new BulkWriter(dir, fs, options, lock, file);
    } catch (e) {
      lock?.release();
      throw e;
    }
  }

  /** Bytes encoded but not yet written: call `flush()` when it grows (the writer never awaits by itself). */
  get buffered(): number {
    return this.pendingBytes + (this.used - this.pieceStart);
  }

  /** Adds one batch (one shard, contiguous positions following the previous batch). */
  append(batch: BulkBatch): void {
    const { stream, key, events } = batch;
    assert(!this.finished, 'BulkWriter: append after finish');
    if (!this.seqs.has(stream)) validateStream(stream);
    validateKey(key);
    const n = events.length;
    assert(n > 0 && batch.dataTexts.length === n && batch.metaTexts.length === n, 'BulkWriter: a batch has events, and a data text and meta slot per event');
    let shards = this.seqs.get(stream);
    if (shards === undefined) this.seqs.set(stream, (shards = new Map()));
    const lastSeq = shards.get(key) ?? 0;
    const first = events[0] as StoredEvent;
    const last = events[n - 1] as StoredEvent;
    // Messages are built only on failure: this runs once per batch, millions of times.
    if (first.position !== this.lastPosition + 1) assert(false, `BulkWriter: position ${first.position} does not follow ${this.lastPosition}`);
    if (first.seq !== lastSeq + 1) assert(false, `BulkWriter: ${stream}/${key} seq ${first.seq} does not follow ${lastSeq}`);
    assert(last.position === first.position + n - 1 && last.seq === first.seq + n - 1, 'BulkWriter: positions and seqs within a batch are contiguous');
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const e of events) {
      if (!Number.isSafeInteger(e.time)) throw new InvalidInputError('time', 'an integer event time in ms since the epoch', e.time);
      if (e.time < lo) lo = e.time;
      if (e.time > hi) hi = e.time;
    }
    shards.set(key, last.seq);
    this.lastPosition = last.position;
    this.events += n;
    // The same meta and payload JSON that EmbeddedStore.append writes (wal-records.ts).
    const meta = `{"s":${JSON.stringify(stream)},"k":${JSON.stringify(key)},"q":${first.seq},"p":${first.position},"n":${n},"lo":${lo},"hi":${hi},"lt":${last.time}}`;
    this.writeFrame(RecordKind.Events, meta, eventsPayload(events, batch.dataTexts, batch.metaTexts));
    if (this.options.seal !== false) {
      let columns = this.segmentColumns.get(stream);
      if (columns === undefined) this.segmentColumns.set(stream, (columns = new ColumnBuilder(stream)));
      if (this.parquet) columns.addBatch(events, batch.dataTexts, batch.metaTexts);
      else columns.addBatch(events);
    }
  }

  putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): void {
    assert(!this.finished, 'BulkWriter: putSnapshot after finish');
    // The frame encodeFrame(encodeRecord(Snapshot, info, data)) would give, encoded in place.
    this.writeFrame(RecordKind.Snapshot, JSON.stringify(snapshotInfo(snapshot)), snapshot.data);
    this.snapshots++;
  }

  /** Writes what is buffered, rotating (and sealing) segments as they fill. */
  async flush(): Promise<void> {
    this.cutPiece();
    while (this.pending.length > 0) {
      const item = this.pending.shift() as Pending;
      assert(item.segment === this.fileSegment, 'BulkWriter: pending writes follow the file');
      if ('bytes' in item) {
        await this.file.write(item.bytes, this.fileOffset);
        this.fileOffset += item.bytes.byteLength;
        this.pendingBytes -= item.bytes.byteLength;
        continue;
      }
      await this.file.sync();
      await this.file.close();
      this.file = await this.fs.open(`${this.dir}/wal/${segmentName(item.segment + 1)}`, { create: true });
      await this.fs.syncDir(`${this.dir}/wal`);
      this.fileSegment = item.segment + 1;
      this.fileOffset = 0;
      if (this.options.seal !== false) await this.scheduleSeal(item.segment, item.columns);
    }
  }

  /** Writes everything, seals, leaves an empty active segment, releases the lock. The store is then ready to open. */
  async finish(): Promise<BulkWriteSummary> {
    assert(!this.finished, 'BulkWriter: finish twice');
    this.finished = true;
    try {
      if (this.segmentSize > 0) this.endSegment();
      await this.flush();
      await this.file.sync();
      await this.file.close();
      await this.sealing;
    } finally {
      this.lock?.release();
    }
    const segments = this.segment - 1;
    return { events: this.events, snapshots: this.snapshots, frames: this.frames, walBytes: this.walBytes, segments };
  }

  /** Closes files and the lock without finishing (after a failure). The folder is left as it is. */
  async abort(): Promise<void> {
    this.finished = true;
    await this.file.close().catch(() => undefined);
    await this.sealing.catch(() => undefined);
    this.lock?.release();
  }

  // ---------------------------------------------------------------- encoding

  /** Encodes one frame at `used`: header, kind, meta JSON, payload (text as UTF-8, or bytes). */
  private writeFrame(kind: number, meta: string, payload: string | Uint8Array): void {
    const text = typeof payload === 'string';
    this.reserve(FRAME_HEADER_BYTES + 5 + 3 * meta.length + (text ? 3 * payload.length : payload.byteLength));
    const chunk = this.chunk;
    const o = this.used;
    const bodyStart = o + FRAME_HEADER_BYTES;
    chunk[bodyStart] = kind;
    const metaBytes = chunk.write(meta, bodyStart + 5, 'utf8');
    let payloadBytes: number;
    if (text) payloadBytes = chunk.write(payload, bodyStart + 5 + metaBytes, 'utf8');
    else {
      chunk.set(payload, bodyStart + 5 + metaBytes);
      payloadBytes = payload.byteLength;
    }
    const bodyLength = 5 + metaBytes + payloadBytes;
    chunk.writeUInt32LE(metaBytes, bodyStart + 1);
    chunk.writeUInt32LE(FRAME_MAGIC, o);
    chunk.writeUInt32LE(bodyLength, o + 4);
    chunk.writeUInt32LE(crc32(chunk.subarray(bodyStart, bodyStart + bodyLength)), o + 8);
    this.placeFrame(FRAME_HEADER_BYTES + bodyLength);
  }

  /** Makes room for a frame of at most `bytes` at `used`. */
  private reserve(bytes: number): void {
    if (this.used + bytes <= this.chunk.byteLength) return;
    this.cutPiece();
    this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    this.used = 0;
    this.pieceStart = 0;
  }

  /** Accounts for the frame just encoded at `used`: it opens a new segment when this one is full (the store's rule). */
  private placeFrame(length: number): void {
    if (this.segmentSize > 0 && this.segmentSize + length > (this.options.segmentBytes ?? 64 * 1024 * 1024)) this.endSegment();
    this.used += length;
    this.segmentSize += length;
    this.frames++;
    this.walBytes += length;
  }

  /** Queues the bytes encoded since the last cut for the current segment. */
  private cutPiece(): void {
    if (this.used === this.pieceStart) return;
    const bytes = this.chunk.subarray(this.pieceStart, this.used);
    this.pending.push({ segment: this.segment, bytes });
    this.pendingBytes += bytes.byteLength;
    this.pieceStart = this.used;
  }

  private endSegment(): void {
    this.cutPiece();
    this.pending.push({ segment: this.segment, end: true, columns: [...this.segmentColumns.values()] });
    this.segmentColumns = new Map();
    this.segment++;
    this.segmentSize = 0;
  }

  /** Seals in the background, at most two segments behind, so memory stays bounded. */
  private get parquet(): boolean {
    return this.options.parquet ?? this.fs === nodeFileSystem;
  }

  private async scheduleSeal(segment: number, columns: ColumnBuilder[]): Promise<void> {
    if (this.sealsQueued >= 2) await this.sealing;
    this.sealsQueued++;
    this.sealing = this.sealing.then(async () => {
      try {
        await sealColumns({ fs: this.fs, dir: this.dir, segment, parquet: this.parquet, streams: columns.map((c) => ({ batch: c.batch(), dataTexts: c.dataTexts, metaTexts: c.metaTexts })) });
      } finally {
        this.sealsQueued--;
      }
    });
  }
}
