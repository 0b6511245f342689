/**
 * Bulk loading of a new embedded store: millions of already-placed batches and snapshots written as
 * WAL frames in large sequential writes, one fsync per segment, instead of one promise, one plan and
 * one group commit per append. For tools that build a whole history offline (`spive dataset
 * generate`); a live writer uses `EmbeddedStore.append`.
 *
 * The result is an ordinary store: the WAL (same frames, same records, same segment rotation rule)
 * stays the source of truth, and `EmbeddedStore.open` recovers it — checking every checksum and that
 * positions and seqs follow on — exactly as it recovers any store. Full segments are sealed to Arrow
 * and Parquet, and the last one is sealed too after rotating to a fresh empty segment, as
 * `EmbeddedStore.seal()` does.
 *
 * The writer encodes frames, with flat column records of their events next to them (bulk-records.ts);
 * a `SegmentSink` (bulk-sink.ts) checksums and writes the frames, builds each segment's columns from
 * the records and seals it. With the real file system the sink runs on its own thread, so checksums,
 * writes, fsyncs, column building and sealing (Arrow, Parquet through DuckDB) overlap with the caller
 * producing and encoding the next events.
 *
 * The writer trusts its caller to place events (positions contiguous across the store, seqs per
 * shard) and checks it; it does not take leases, so it is for a store nobody else writes.
 */
import { InvalidInputError } from '../../model/errors.ts';
import type { Snapshot, StoredEvent } from '../../model/event.ts';
import { realClock, type Clock } from '../../time/clock.ts';
import { assert } from '../../util/assert.ts';
import { checkSnapshotPlace, snapshotInfo } from '../memory/memory-store.ts';
import { validateKey, validateStream } from '../validate.ts';
import { SegmentSink, type SinkItem } from './bulk-sink.ts';
import { SinkThread } from './bulk-sink-thread.ts';
import { SpareBuffers } from './bulk-spares.ts';
import { EmbeddedStore } from './embedded-store.ts';
import type { FileSystem } from './file-system.ts';
import { LockFile } from './lock-file.ts';
import { nodeFileSystem } from './node-file-system.ts';
import { asciiBytes, putAsciiJsonString, putBytes, putInteger, putPrefix } from './bulk-ascii.ts';
import { addRecord, RecordWriter } from './bulk-records.ts';
import { FRAME_HEADER_BYTES, FRAME_MAGIC } from './wal-frame.ts';
import { RecordKind } from './wal-records.ts';

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
  /** Checksum, write and seal on a worker thread (default true; the real file system only). */
  readonly thread?: boolean;
  /** Bytes of the buffers frames are encoded into (default 8 MiB; small in tests, so that they go round). */
  readonly chunkBytes?: number;
}

/** One append: events already placed, with their payloads (and metas) serialized. */
export interface BulkBatch {
  readonly stream: string;
  readonly key: string;
  readonly events: readonly StoredEvent[];
  readonly dataTexts: readonly string[];
  /** Per event, its meta as JSON (undefined: none). Absent: no event has a meta, or `outputMeta` gives it. */
  readonly metaTexts?: ReadonlyArray<string | undefined>;
  /**
   * The one meta every event of the batch has, as a process's outputs carry it (`{v, m, in}`,
   * src/runtime/runner.ts), written in place from its parts: building its text per handler call and
   * transcoding it cost the folding thread of a bulk load more than writing the numbers. Not with `metaTexts`.
   */
  readonly outputMeta?: OutputMeta;
  /**
   * The caller's cell for this shard, if it keeps one: the writer remembers its own entry for the
   * shard there, sparing a map lookup per batch (a caller placing millions of batches already holds
   * one object per shard). Pass the same cell with every batch of the shard, and with no other shard.
   */
  readonly cell?: BulkShardCell;
}

/**
 * A process output's meta as the runner makes it: written as `{"v":v,"m":m,"in":[in[0],in[1]]}`, which
 * is its `JSON.stringify` when it has just these fields in this order (the runner's and the fold's do).
 */
export interface OutputMeta {
  /** The process's version. */
  readonly v: string;
  /** Its merged input number. */
  readonly m: number;
  /** Which of its inputs, and the position of the event consumed there. */
  readonly in: readonly [number, number];
}

/** See `BulkBatch.cell`: the writer's slot in a caller's per-shard object. */
export interface BulkShardCell {
  bulk?: unknown;
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
/** Bytes handed to the sink thread and not yet written: `flush` waits while there are more. */
const IN_FLIGHT_BYTES = 48 * 1024 * 1024;

export class BulkWriter {
  private readonly chunkBytes: number;
  private chunk: Buffer;
  private used = 0;
  private pieceStart = 0;
  private readonly pending: SinkItem[] = [];
  private pendingBytes = 0;
  /** Segment receiving frames now, and its size counting frames not yet written. */
  private segment = 1;
  private segmentSize = 0;
  /**
   * Per event, the numbers its columns are made of and where its JSON texts lie in the segment, for
   * sealing (bulk-records.ts): recorded as batches arrive, handed to the sink with the frames, so no
   * event object (nor text) outlives its batch and sealing neither re-reads nor re-parses. The sink
   * builds the columns, on its own thread when it has one.
   */
  private readonly records: RecordWriter | undefined;
  /** Byte ranges of the payload and meta texts of the frame just encoded, relative to its start. */
  private frameTexts: number[] = [];
  private lastFrameLength = 0;
  /** Requests handed to the sink thread and not yet answered, oldest first, with their bytes. */
  private readonly inFlight: Array<{ done: Promise<void>; bytes: number }> = [];
  private inFlightBytes = 0;
  /** Per stream, each shard's last seq, key JSON and record id: one lookup per batch. */
  private readonly shards = new Map<string, StreamEntry>();
  private readonly seal: boolean;
  /** Per event type: its JSON, and its record id (-1 without records). */
  private readonly typeCache = new Map<string, TypeEntry>();
  /** The record ids of the types of the frame just encoded. */
  private readonly frameTypes: number[] = [];
  /** The last event time written, as text in `timeDigits` (one conversion per distinct time: see putTime). */
  private lastTime = Number.NaN;
  private readonly timeDigits = Buffer.alloc(24); // a Buffer like the chunks: putInteger then stores into one kind of array
  private timeLength = 0;
  /** Per process and version, the start of its snapshots' meta (snapshotHead). */
  private readonly snapshotHeads = new Map<string, Map<string, Uint8Array>>();
  /** Per output meta version, the start of the meta's JSON, `{"v":version,"m":` (versionJson). */
  private readonly versions = new Map<string, Uint8Array>();
  /** The last version asked for (a load's processes mostly share one: the app's source hash). */
  private lastVersion: string | undefined;
  private lastVersionHead: Uint8Array = new Uint8Array(0);
  private lastPosition = 0;
  private events = 0;
  private snapshots = 0;
  private frames = 0;
  private walBytes = 0;
  private finished = false;

  private constructor(
    readonly dir: string,
    private readonly options: BulkWriterOptions,
    private readonly lock: LockFile | undefined,
    /** Exactly one of them: the sink in this thread, or the thread running it. */
    private readonly sink: SegmentSink | undefined,
    private readonly thread: SinkThread | undefined,
    /** With the thread: the buffers it handed back, encoded into again. */
    private readonly spares: SpareBuffers | undefined,
  ) {
    this.seal = options.seal !== false;
    this.chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
    // Never a slice of Node's shared pool (allocUnsafe's, for small sizes): a chunk's whole ArrayBuffer moves to the sink thread.
    this.chunk = Buffer.allocUnsafeSlow(this.chunkBytes);
    this.records = this.seal ? new RecordWriter(undefined, spares === undefined ? undefined : (slots) => spares.recordBuffer(slots)) : undefined;
  }

  /** Buffers encoded into again after the sink thread handed them back (frames and column records; for tests and benchmarks). */
  get reusedBuffers(): number {
    return this.spares?.reused ?? 0;
  }

  /** Creates a store at `dir`, which must not exist yet or be an empty folder. */
  static async create(dir: string, options: BulkWriterOptions = {}): Promise<BulkWriter> {
    const fs = options.fs ?? nodeFileSystem;
    if (options.segmentBytes !== undefined && !(Number.isSafeInteger(options.segmentBytes) && options.segmentBytes >= 4096)) {
      throw new InvalidInputError('segmentBytes', 'an integer >= 4096', options.segmentBytes);
    }
    if (options.chunkBytes !== undefined && !(Number.isSafeInteger(options.chunkBytes) && options.chunkBytes >= 1024)) {
      throw new InvalidInputError('chunkBytes', 'an integer >= 1024', options.chunkBytes);
    }
    const existing = await fs.list(dir);
    if (existing.length > 0) throw new InvalidInputError('dir', `a new or empty folder for the store (${dir} holds ${existing.slice(0, 3).join(', ')})`, dir);
    const warn = options.warn ?? ((m: string) => process.stderr.write(`spive: warning: ${m}\n`));
    // Opening once lays the store out (FORMAT, wal/, the first segment) the one way the store does it.
    const store = await EmbeddedStore.open(dir, { fs, autoSeal: false, lock: false, warn });
    await store.close();
    const lock = fs === nodeFileSystem ? LockFile.acquire(`${dir}/LOCK`, { since: new Date((options.clock ?? realClock).nowMs()).toISOString(), command: options.command ?? 'spive bulk load' }, warn) : undefined;
    try {
      const seal = options.seal !== false;
      const parquet = options.parquet ?? fs === nodeFileSystem;
      // A worker thread opens files by path itself, so it needs the real file system.
      if (fs === nodeFileSystem && options.thread !== false) {
        const spares = new SpareBuffers(options.chunkBytes ?? CHUNK_BYTES);
        return new BulkWriter(dir, options, lock, undefined, SinkThread.start({ dir, seal, parquet }, (released) => spares.add(released)), spares);
      }
      return new BulkWriter(dir, options, lock, await SegmentSink.open({ fs, dir, seal, parquet }), undefined, undefined);
    } catch (e) {
      lock?.release();
      throw e;
    }
  }

  /** Bytes encoded but not yet handed on: call `flush()` when it grows (the writer never awaits by itself). */
  get buffered(): number {
    return this.pendingBytes + (this.used - this.pieceStart);
  }

  /** Adds one batch (one shard, contiguous positions following the previous batch). */
  append(batch: BulkBatch): void {
    const { stream, key, events } = batch;
    assert(!this.finished, 'BulkWriter: append after finish');
    const n = events.length;
    assert(n > 0 && batch.dataTexts.length === n, 'BulkWriter: a batch has events, and a data text per event');
    assert(batch.metaTexts === undefined ? true : batch.outputMeta === undefined && batch.metaTexts.length === n, 'BulkWriter: a batch has a meta slot per event, or one output meta, or neither');
    // Checked before anything changes: a refused batch leaves the writer as it was.
    const outputVersion = batch.outputMeta === undefined ? undefined : this.versionJson(batch.outputMeta);
    const shard = this.cellEntry(batch.cell, stream, key);
    const streamEntry = shard.stream;
    const lastSeq = shard.seq;
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
    shard.seq = last.seq;
    this.lastPosition = last.position;
    this.events += n;
    this.writeEventsFrame(shard, lo, hi, events, batch.dataTexts, batch.metaTexts, batch.outputMeta, outputVersion);
    const records = this.records;
    if (records !== undefined) {
      // The frame may have opened a new segment: its place is known only now.
      const base = this.segmentSize - this.lastFrameLength;
      const t = this.frameTexts;
      const streamId = streamEntry.id;
      const keyId = shard.id;
      for (let i = 0; i < n; i++) {
        const e = events[i] as StoredEvent;
        const j = 4 * i;
        addRecord(records, streamId, keyId, this.frameTypes[i] as number, e.seq, e.position, e.time, base + (t[j] as number), t[j + 1] as number, base + (t[j + 2] as number), t[j + 3] as number, e.data);
      }
    }
  }

  /**
   * `append` of a batch of one event, from its parts: the same frame and record, byte for byte,
   * without the batch, event, text arrays and meta objects a caller would make for each (a bulk load
   * is mostly one-event frames: an input, or a handler call's one output). `version` undefined: the
   * event has no meta; else its meta is `{"v":version,"m":m,"in":[in0,in1]}` (OutputMeta).
   */
  appendEvent(cell: BulkShardCell | undefined, stream: string, key: string, seq: number, position: number, time: number, type: string, dataText: string, data: unknown, version: string | undefined, m: number, in0: number, in1: number): void {
    assert(!this.finished, 'BulkWriter: append after finish');
    const metaHead = version === undefined ? undefined : this.versionOf(version, m, in0, in1);
    const shard = this.cellEntry(cell, stream, key);
    if (position !== this.lastPosition + 1) assert(false, `BulkWriter: position ${position} does not follow ${this.lastPosition}`);
    if (seq !== shard.seq + 1) assert(false, `BulkWriter: ${stream}/${key} seq ${seq} does not follow ${shard.seq}`);
    if (!Number.isSafeInteger(time)) throw new InvalidInputError('time', 'an integer event time in ms since the epoch', time);
    shard.seq = seq;
    this.lastPosition = position;
    this.events++;
    const typeEntry = this.typeOf(type);
    const outputMetaBytes = metaHead === undefined ? 0 : OUTPUT_META_FIXED_BYTES + metaHead.length;
    this.reserve(FRAME_HEADER_BYTES + 5 + META_FIXED_BYTES + shard.prefix.length + outputMetaBytes + 3 * (36 + typeEntry.json.length + dataText.length));
    const chunk = this.chunk as RawBuffer;
    const o = this.used;
    const bodyStart = o + FRAME_HEADER_BYTES;
    chunk[bodyStart] = RecordKind.Events;
    // The events meta (writeEventsMeta's bytes for one event: lo, hi and lt are its time).
    // The time's digits, once (putTime), then copied four times.
    if (time !== this.lastTime) {
      this.lastTime = time;
      this.timeLength = putInteger(this.timeDigits, 0, time);
    }
    const digits = this.timeDigits;
    const timeLength = this.timeLength;
    let p = bodyStart + 5;
    p += putBytes(chunk, p, shard.prefix);
    p += putInteger(chunk, p, seq);
    p += putBytes(chunk, p, META_P);
    p += putInteger(chunk, p, position);
    p += putBytes(chunk, p, META_ONE_LO);
    p += putPrefix(chunk, p, digits, timeLength);
    p += putBytes(chunk, p, META_HI);
    p += putPrefix(chunk, p, digits, timeLength);
    p += putBytes(chunk, p, META_LT);
    p += putPrefix(chunk, p, digits, timeLength);
    chunk[p++] = 0x7d; // }
    const metaBytes = p - (bodyStart + 5);
    chunk[p++] = 0x5b; // [
    chunk[p++] = 0x5b;
    p += putPrefix(chunk, p, digits, timeLength);
    chunk[p++] = 0x2c; // ,
    p += putBytes(chunk, p, typeEntry.bytes);
    chunk[p++] = 0x2c;
    const dataStart = p;
    p += chunk.utf8Write(dataText, p);
    const dataLength = p - dataStart;
    let metaStart = 0;
    let metaLength = -1;
    if (metaHead !== undefined) {
      chunk[p++] = 0x2c;
      metaStart = p;
      p += writeMetaParts(chunk, p, metaHead, m, in0, in1);
      metaLength = p - metaStart;
    }
    chunk[p++] = 0x5d; // ]
    chunk[p++] = 0x5d;
    this.sealFrame(chunk, o, bodyStart, p - bodyStart, metaBytes);
    const records = this.records;
    if (records !== undefined) {
      const base = this.segmentSize - this.lastFrameLength - o;
      addRecord(records, shard.streamId, shard.id, typeEntry.id, seq, position, time, base + dataStart, dataLength, base + (metaLength < 0 ? o : metaStart), metaLength, data);
    }
  }

  /** The writer's entry for a shard, through the caller's cell when it gives one (`BulkBatch.cell`). */
  private cellEntry(cell: BulkShardCell | undefined, stream: string, key: string): ShardEntry {
    let shard = cell?.bulk as ShardEntry | undefined;
    if (shard === undefined) {
      shard = this.shardEntry(stream, key);
      if (cell !== undefined) cell.bulk = shard;
    } else if (shard.streamName !== stream || shard.key !== key) assert(false, `BulkWriter: the cell of ${shard.stream.name}/${shard.key} came with a batch of ${stream}/${key}`);
    return shard;
  }

  /** The writer's entry for a shard, made (names validated) when the shard first appears. */
  private shardEntry(stream: string, key: string): ShardEntry {
    let streamEntry = this.shards.get(stream);
    if (streamEntry === undefined) {
      validateStream(stream);
      this.shards.set(stream, (streamEntry = { name: stream, json: utf8.encode(JSON.stringify(stream)), id: this.records?.id(stream) ?? -1, keys: new Map() }));
    }
    let shard = streamEntry.keys.get(key);
    if (shard === undefined) {
      validateKey(key);
      // The constant start of its events frames' meta: one copy per frame instead of four.
      const prefix = utf8.encode(`{"s":${JSON.stringify(stream)},"k":${JSON.stringify(key)},"q":`);
      streamEntry.keys.set(key, (shard = { stream: streamEntry, streamName: stream, streamId: streamEntry.id, key, seq: 0, json: utf8.encode(JSON.stringify(key)), prefix, id: this.records?.id(key) ?? -1 }));
    }
    return shard;
  }

  putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): void {
    assert(!this.finished, 'BulkWriter: putSnapshot after finish');
    // The frame encodeFrame(encodeRecord(Snapshot, info, data)) would give, encoded in place.
    this.writeFrame(RecordKind.Snapshot, JSON.stringify(snapshotInfo(snapshot)), snapshot.data);
    this.snapshots++;
  }

  /**
   * `putSnapshot` with the data as JSON text, encoded to UTF-8 straight into the frame, and its meta
   * — `JSON.stringify(snapshotInfo(...))` — written in place from its parts (a bulk load has about one
   * snapshot for every two inputs).
   */
  putSnapshotText(process: string, version: string, shard: string, position: number, time: number, text: string): void {
    assert(!this.finished, 'BulkWriter: putSnapshot after finish');
    checkSnapshotPlace(process, version, shard, position, time); // snapshotInfo's checks
    const head = this.snapshotHead(process, version);
    this.reserve(FRAME_HEADER_BYTES + 5 + head.length + 6 * shard.length + SNAPSHOT_META_FIXED_BYTES + 3 * text.length);
    const chunk = this.chunk as RawBuffer;
    const o = this.used;
    const bodyStart = o + FRAME_HEADER_BYTES;
    chunk[bodyStart] = RecordKind.Snapshot;
    let p = bodyStart + 5;
    p += putBytes(chunk, p, head);
    const shardBytes = putAsciiJsonString(chunk, p, shard);
    p += shardBytes >= 0 ? shardBytes : chunk.utf8Write(JSON.stringify(shard), p);
    p += putBytes(chunk, p, SNAPSHOT_POSITION);
    p += putInteger(chunk, p, position);
    p += putBytes(chunk, p, SNAPSHOT_TIME);
    p += this.putTime(chunk, p, time);
    p += putBytes(chunk, p, SNAPSHOT_SIZE);
    // sizeBytes (the text's UTF-8 length) precedes the text: the text is written where a size with
    // as many digits as its UTF-16 length leaves it, and moved on in the rare case its UTF-8 length
    // has more (measuring it first, Buffer.byteLength, cost a pass over the text and an allocation).
    const guess = decimalDigits(text.length);
    let at = p + guess + 1;
    const sizeBytes = chunk.utf8Write(text, at);
    const digits = decimalDigits(sizeBytes);
    if (digits !== guess) {
      chunk.copyWithin(p + digits + 1, at, at + sizeBytes);
      at = p + digits + 1;
    }
    p += putInteger(chunk, p, sizeBytes);
    chunk[p++] = 0x7d; // }
    const metaBytes = p - (bodyStart + 5);
    p = at + sizeBytes;
    this.sealFrame(chunk, o, bodyStart, p - bodyStart, metaBytes);
    this.snapshots++;
  }

  /** `{"process":process,"version":version,"shard":` in UTF-8 (cached: a load has a few processes and versions). */
  private snapshotHead(process: string, version: string): Uint8Array {
    let versions = this.snapshotHeads.get(process);
    if (versions === undefined) this.snapshotHeads.set(process, (versions = new Map()));
    let head = versions.get(version);
    if (head === undefined) {
      head = utf8.encode(`{"process":${JSON.stringify(process)},"version":${JSON.stringify(version)},"shard":`);
      if (versions.size < 64) versions.set(version, head);
    }
    return head;
  }

  /**
   * Hands what is buffered to the sink, which writes it (rotating and sealing segments as they fill).
   * With the sink thread it waits only while too much is still on its way.
   */
  async flush(): Promise<void> {
    this.cutPiece();
    if (this.pending.length === 0) return;
    const items = this.pending.splice(0);
    const bytes = this.pendingBytes;
    this.pendingBytes = 0;
    if (this.thread === undefined) {
      for (const item of items) await (this.sink as SegmentSink).take(item);
      return;
    }
    // The chunk's memory moves to the thread with the pieces cut from it: encode on in another one.
    this.chunk = (this.spares as SpareBuffers).chunk();
    this.used = 0;
    this.pieceStart = 0;
    const done = this.thread.request({ kind: 'items', items });
    // A failure is reported by the next flush or finish that waits for it.
    done.catch(() => undefined);
    this.inFlight.push({ done, bytes });
    this.inFlightBytes += bytes;
    while (this.inFlightBytes > IN_FLIGHT_BYTES) await this.settleOldest();
  }

  /** Writes everything, seals, leaves an empty active segment, releases the lock. The store is then ready to open. */
  async finish(): Promise<BulkWriteSummary> {
    assert(!this.finished, 'BulkWriter: finish twice');
    this.finished = true;
    try {
      if (this.segmentSize > 0) this.endSegment();
      await this.flush();
      if (this.thread === undefined) await (this.sink as SegmentSink).finish();
      else {
        while (this.inFlight.length > 0) await this.settleOldest();
        await this.thread.request({ kind: 'finish' });
      }
    } finally {
      await this.thread?.close();
      this.lock?.release();
    }
    const segments = this.segment - 1;
    return { events: this.events, snapshots: this.snapshots, frames: this.frames, walBytes: this.walBytes, segments };
  }

  /** Closes files and the lock without finishing (after a failure). The folder is left as it is. */
  async abort(): Promise<void> {
    this.finished = true;
    try {
      if (this.thread === undefined) await this.sink?.abort();
      else await this.thread.request({ kind: 'abort' }).catch(() => undefined);
    } finally {
      await this.thread?.close();
      this.lock?.release();
    }
  }

  /**
   * Writes `String(time)` at `at`; returns its length. The digits of the last time are kept: a frame
   * holds its time up to four times (lo, hi, lt, the event's), and consecutive frames mostly share
   * one (an input and the outputs it caused); a time in a scratch array, not a string or an array per
   * time (one of each per input was a tenth of the folding thread's allocation).
   */
  private putTime(chunk: Uint8Array, at: number, time: number): number {
    if (time !== this.lastTime) {
      this.lastTime = time;
      this.timeLength = putInteger(this.timeDigits, 0, time);
    }
    return putPrefix(chunk, at, this.timeDigits, this.timeLength);
  }

  /** The start of an output meta's JSON up to its `m`, in UTF-8 (cached: a load has a version per process), its numbers checked. */
  private versionJson(meta: OutputMeta): Uint8Array {
    return this.versionOf(meta.v, meta.m, meta.in[0], meta.in[1]);
  }

  /** `versionJson` from the meta's parts. */
  private versionOf(version: string, m: number, in0: number, in1: number): Uint8Array {
    // Integers, or the text would not be the meta's JSON (putInteger writes String(n)).
    if (!(Number.isSafeInteger(m) && Number.isSafeInteger(in0) && Number.isSafeInteger(in1))) throw new InvalidInputError('outputMeta', 'integers m and in', { v: version, m, in: [in0, in1] });
    if (version === this.lastVersion) return this.lastVersionHead;
    let head = this.versions.get(version);
    if (head === undefined) {
      if (typeof version !== 'string' || version === '') throw new InvalidInputError('outputMeta.v', 'a non-empty string', version);
      head = utf8.encode(`{"v":${JSON.stringify(version)},"m":`);
      if (this.versions.size < 4096) this.versions.set(version, head);
    }
    this.lastVersion = version;
    this.lastVersionHead = head;
    return head;
  }

  /** JSON (text and UTF-8) and record id of an event type (cached: a load has a few types and millions of events; bounded, in case it has not). */
  private typeOf(type: string): TypeEntry {
    let entry = this.typeCache.get(type);
    if (entry === undefined) {
      const json = JSON.stringify(type);
      entry = { json, bytes: utf8.encode(json), id: this.records?.id(type) ?? -1 };
      if (this.typeCache.size < 4096) this.typeCache.set(type, entry);
    }
    return entry;
  }

  private async settleOldest(): Promise<void> {
    const oldest = this.inFlight.shift();
    if (oldest === undefined) return;
    this.inFlightBytes -= oldest.bytes;
    await oldest.done;
  }

  // ---------------------------------------------------------------- encoding

  /**
   * Encodes one frame at `used`: header, kind, meta JSON, payload (text as UTF-8, or bytes). The
   * checksum is left for the sink to fill in (off this thread when the sink has its own).
   */
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
    this.sealFrame(chunk, o, bodyStart, 5 + metaBytes + payloadBytes, metaBytes);
  }

  /**
   * An events frame: meta JSON, then the payload (`eventsPayload`'s JSON) written piece by piece
   * straight into the chunk — no string is built for the body (joining the pieces first made one
   * string per frame that had to be flattened and collected, a third of this thread's encoding), nor
   * for the meta (`writeEventsMeta`). The texts' places (bytes from the frame's start) go to
   * `frameTexts`.
   */
  private writeEventsFrame(
    shard: ShardEntry,
    lo: number,
    hi: number,
    events: readonly StoredEvent[],
    dataTexts: readonly string[],
    metaTexts: ReadonlyArray<string | undefined> | undefined,
    outputMeta: OutputMeta | undefined,
    /** The start of `outputMeta`'s JSON up to its m (versionJson). */
    version: Uint8Array | undefined,
  ): void {
    const n = events.length;
    // At most 3 bytes per UTF-16 unit; a type's JSON is at most 6 units per unit, plus quotes.
    let units = 2;
    for (let i = 0; i < n; i++) units += 32 + 6 * (events[i] as StoredEvent).type.length + (dataTexts[i] as string).length + (metaTexts?.[i]?.length ?? 0);
    const outputMetaBytes = version === undefined ? 0 : n * (OUTPUT_META_FIXED_BYTES + version.length);
    this.reserve(FRAME_HEADER_BYTES + 5 + META_FIXED_BYTES + shard.stream.json.length + shard.json.length + outputMetaBytes + 3 * units);
    const chunk = this.chunk as RawBuffer;
    const o = this.used;
    const bodyStart = o + FRAME_HEADER_BYTES;
    const texts = this.frameTexts;
    texts.length = 0;
    const types = this.frameTypes;
    types.length = 0;
    chunk[bodyStart] = RecordKind.Events;
    const metaBytes = this.writeEventsMeta(chunk, bodyStart + 5, shard, events, lo, hi);
    let p = bodyStart + 5 + metaBytes;
    chunk[p++] = 0x5b; // [
    for (let i = 0; i < n; i++) {
      const e = events[i] as StoredEvent;
      if (i > 0) chunk[p++] = 0x2c; // ,
      chunk[p++] = 0x5b;
      p += this.putTime(chunk, p, e.time);
      chunk[p++] = 0x2c;
      const type = this.typeOf(e.type);
      types.push(type.id);
      p += putBytes(chunk, p, type.bytes);
      chunk[p++] = 0x2c;
      const dataStart = p;
      p += chunk.utf8Write(dataTexts[i] as string, p);
      texts.push(dataStart - o, p - dataStart);
      const metaText = metaTexts?.[i];
      if (version === undefined && metaText === undefined) texts.push(0, -1);
      else {
        chunk[p++] = 0x2c;
        const metaStart = p;
        p += version === undefined ? chunk.utf8Write(metaText as string, p) : writeOutputMeta(chunk, p, version, outputMeta as OutputMeta);
        texts.push(metaStart - o, p - metaStart);
      }
      chunk[p++] = 0x5d; // ]
    }
    chunk[p++] = 0x5d;
    this.sealFrame(chunk, o, bodyStart, p - bodyStart, metaBytes);
  }

  /**
   * The meta JSON of an events frame at `at` — exactly what EmbeddedStore.append writes
   * (wal-records.ts): `{"s":stream,"k":key,"q":seq,"p":position,"n":n,"lo":lo,"hi":hi,"lt":lastTime}`
   * — byte by byte (bulk-ascii.ts); returns its length. Room for it was reserved (META_FIXED_BYTES).
   */
  private writeEventsMeta(chunk: RawBuffer, at: number, shard: ShardEntry, events: readonly StoredEvent[], lo: number, hi: number): number {
    const first = events[0] as StoredEvent;
    const n = events.length;
    let p = at;
    p += putBytes(chunk, p, shard.prefix);
    p += putInteger(chunk, p, first.seq);
    p += putBytes(chunk, p, META_P);
    p += putInteger(chunk, p, first.position);
    p += putBytes(chunk, p, META_N);
    p += putInteger(chunk, p, n);
    p += putBytes(chunk, p, META_LO);
    p += this.putTime(chunk, p, lo);
    p += putBytes(chunk, p, META_HI);
    p += n === 1 ? this.putTime(chunk, p, lo) : putInteger(chunk, p, hi);
    p += putBytes(chunk, p, META_LT);
    p += n === 1 ? this.putTime(chunk, p, lo) : putInteger(chunk, p, (events[n - 1] as StoredEvent).time);
    chunk[p++] = 0x7d; // }
    return p - at;
  }

  /** Makes room for a frame of at most `bytes` at `used`. */
  private reserve(bytes: number): void {
    if (this.used + bytes <= this.chunk.byteLength) return;
    this.cutPiece();
    this.chunk = bytes <= this.chunkBytes && this.spares !== undefined ? this.spares.chunk() : Buffer.allocUnsafeSlow(Math.max(this.chunkBytes, bytes));
    this.used = 0;
    this.pieceStart = 0;
  }

  /** Accounts for the frame just encoded at `used`: it opens a new segment when this one is full (the store's rule). */
  /** Writes the header of the frame at `o` (magic, body length, a zero word) and its body's meta length, and places it. */
  private sealFrame(chunk: Buffer, o: number, bodyStart: number, bodyLength: number, metaBytes: number): void {
    chunk.writeUInt32LE(metaBytes, bodyStart + 1);
    chunk.writeUInt32LE(FRAME_MAGIC, o);
    chunk.writeUInt32LE(bodyLength, o + 4);
    chunk.writeUInt32LE(0, o + 8);
    this.placeFrame(FRAME_HEADER_BYTES + bodyLength);
  }

  private placeFrame(length: number): void {
    this.lastFrameLength = length;
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
    this.pending.push(this.records === undefined ? { segment: this.segment, bytes } : { segment: this.segment, bytes, records: this.records.cut() });
    this.pendingBytes += bytes.byteLength;
    this.pieceStart = this.used;
  }

  private endSegment(): void {
    this.cutPiece();
    this.pending.push({ segment: this.segment, end: true });
    this.segment++;
    this.segmentSize = 0;
  }
}

/**
 * Node's own writers behind `Buffer.write` (on every Buffer since Node 0.x, not in its typings):
 * `write`'s argument handling cost more than the copy for the short texts of a frame. The caller
 * has reserved room, so a text is never cut short.
 */
/** A stream as the writer knows it: its name as JSON (UTF-8), its record id (-1 without records), its shards. */
interface StreamEntry {
  readonly name: string;
  readonly json: Uint8Array;
  readonly id: number;
  readonly keys: Map<string, ShardEntry>;
}

/** A shard as the writer knows it: its last seq, its key as JSON (UTF-8), its key's record id (-1 without records). */
interface ShardEntry {
  readonly stream: StreamEntry;
  /** `stream.name` and `stream.id`, here too: one object less to reach per event (a load has many shards, met at random). */
  readonly streamName: string;
  readonly streamId: number;
  readonly key: string;
  seq: number;
  readonly json: Uint8Array;
  /** `{"s":stream,"k":key,"q":` in UTF-8. */
  readonly prefix: Uint8Array;
  readonly id: number;
}

/** An event type as the writer knows it. */
interface TypeEntry {
  readonly json: string;
  /** `json` in UTF-8. */
  readonly bytes: Uint8Array;
  /** Its record id (-1 without records). */
  readonly id: number;
}

// The constant pieces of an events frame's meta (writeEventsMeta; it starts with ShardEntry.prefix).
const META_P = asciiBytes(',"p":');
const META_N = asciiBytes(',"n":');
const META_LO = asciiBytes(',"lo":');
/** `,"n":1,"lo":`: the count and the next name of a one-event frame's meta (appendEvent). */
const META_ONE_LO = asciiBytes(',"n":1,"lo":');
const META_HI = asciiBytes(',"hi":');
const META_LT = asciiBytes(',"lt":');
const OUTPUT_META_IN = asciiBytes(',"in":[');
/** Bound on an output meta's bytes besides its version's JSON: its constants and three integers of at most 24 characters. */
const OUTPUT_META_FIXED_BYTES = 24 + 3 * 24;

/** `{"v":v,"m":m,"in":[a,b]}` at `at` (`head`: `{"v":v,"m":`, versionJson); returns the bytes written. */
function writeOutputMeta(chunk: Uint8Array, at: number, head: Uint8Array, meta: OutputMeta): number {
  return writeMetaParts(chunk, at, head, meta.m, meta.in[0], meta.in[1]);
}

/** `writeOutputMeta` from the meta's parts. */
function writeMetaParts(chunk: Uint8Array, at: number, head: Uint8Array, m: number, in0: number, in1: number): number {
  let p = at;
  p += putBytes(chunk, p, head);
  p += putInteger(chunk, p, m);
  p += putBytes(chunk, p, OUTPUT_META_IN);
  p += putInteger(chunk, p, in0);
  chunk[p++] = 0x2c; // ,
  p += putInteger(chunk, p, in1);
  chunk[p++] = 0x5d; // ]
  chunk[p++] = 0x7d; // }
  return p - at;
}

// The constant pieces of a snapshot frame's meta after its shard (putSnapshotText).
const SNAPSHOT_POSITION = asciiBytes(',"position":');
const SNAPSHOT_TIME = asciiBytes(',"time":');
const SNAPSHOT_SIZE = asciiBytes(',"sizeBytes":');
/** Bound on a snapshot meta's bytes besides its head and shard: the constants, the shard's quotes and three integers of at most 24 characters. */
const SNAPSHOT_META_FIXED_BYTES = 64 + 3 * 24;

/** Bound on an events meta's bytes besides the stream and key JSON: its constants, five integers and three times of at most 24 characters each. */
const META_FIXED_BYTES = 64 + 8 * 24;

type RawBuffer = Buffer & {
  utf8Write(text: string, offset: number): number;
  latin1Write(text: string, offset: number): number;
};

const utf8 = new TextEncoder();

/** Digits of a non-negative integer below 2^31. */
function decimalDigits(n: number): number {
  let digits = 1;
  for (let t = n; t >= 10; t = (t / 10) | 0) digits++;
  return digits;
}
