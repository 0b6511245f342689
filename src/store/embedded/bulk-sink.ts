/**
 * The file side of a bulk load (bulk-writer.ts). Frames arrive encoded but without their checksums, in
 * pieces of whole frames, each with its events' column records (bulk-records.ts); the sink fills in
 * each CRC, appends the piece to its WAL segment and adds the records to the segment's columns. A
 * segment it is told has ended is synced, the next one created, and the full one sealed to Arrow (and
 * Parquet) in the background from those columns, the payload and meta texts handed to Parquet as the
 * segment's bytes with where each lies (text-ranges.ts).
 *
 * Everything it needs travels in plain bytes, typed arrays and strings, so it can run on a worker
 * thread (bulk-sink-worker.ts): there checksums, writes, fsyncs and sealing overlap with the caller
 * producing and encoding the next events. With any file system other than the real one it runs in the
 * caller's thread.
 */
import { crc32 } from 'node:zlib';
import { assert } from '../../util/assert.ts';
import type { FileHandle, FileSystem } from './file-system.ts';
import { SegmentColumns, type RecordPiece } from './bulk-records.ts';
import { sealColumns } from './sealer.ts';
import { FRAME_HEADER_BYTES } from './wal-frame.ts';
import { segmentName } from './wal-recovery.ts';

export interface SinkOptions {
  readonly fs: FileSystem;
  readonly dir: string;
  /** Seal every ended segment (Arrow, and Parquet when `parquet`). */
  readonly seal: boolean;
  readonly parquet: boolean;
  /**
   * Told of each buffer of the items (a piece's bytes, its records) once nothing here uses it any
   * more: frames once written (with Parquet, once their segment is sealed), records once added to the
   * columns. A sink on its own thread hands them back, and the writer encodes into them again rather
   * than into fresh memory (gigabytes a load: page faults, and collections to reclaim them).
   */
  readonly release?: (buffer: ArrayBuffer, kind: 'bytes' | 'records') => void;
}

/**
 * What a sink is handed, in order: a piece of whole frames of a segment with its events' column
 * records (absent when not sealing), or the end of a segment.
 */
export type SinkItem = { readonly segment: number; readonly bytes: Uint8Array; readonly records?: RecordPiece } | { readonly segment: number; readonly end: true };

export class SegmentSink {
  private segment = 1;
  private offset = 0;
  /** The active segment's bytes so far, when its texts will be needed for Parquet. */
  private readonly pieces: Buffer[] = [];
  /** Per buffer of the pieces taken (`release`), the pieces of it still in use (a buffer holds a piece of each segment it spans). */
  private readonly uses = new Map<ArrayBuffer, number>();
  private readonly columns = new SegmentColumns();
  private sealing: Promise<void> = Promise.resolve();
  /** The first seal that failed: reported by `finish`, not as an unhandled rejection in the meantime. */
  private sealError: unknown;

  private constructor(
    private readonly options: SinkOptions,
    private file: FileHandle,
  ) {}

  /** Opens the first segment (the store's layout exists already). */
  static async open(options: SinkOptions): Promise<SegmentSink> {
    return new SegmentSink(options, await options.fs.open(`${options.dir}/wal/${segmentName(1)}`, { create: true }));
  }

  /**
   * Takes items in order. With `release`, take a writer's items all at once, as it handed them on: a
   * buffer holding several pieces is counted for all of them first, so it is released only after the
   * last (a segment sealed in the meantime must not release a buffer whose later pieces are still to
   * be written).
   */
  async takeAll(items: readonly SinkItem[]): Promise<void> {
    if (this.options.release !== undefined) {
      for (const item of items) if ('bytes' in item) this.uses.set(item.bytes.buffer as ArrayBuffer, (this.uses.get(item.bytes.buffer as ArrayBuffer) ?? 0) + 1);
    }
    for (const item of items) await this.take(item);
  }

  async take(item: SinkItem): Promise<void> {
    assert(item.segment === this.segment, 'SegmentSink: items follow the segments in order');
    if ('bytes' in item) {
      const release = this.options.release;
      if (item.records !== undefined) {
        if (this.options.seal) this.columns.add(item.records);
        release?.(item.records.records.buffer as ArrayBuffer, 'records');
      }
      await this.write(item.bytes);
    } else await this.endSegment();
  }

  /** Syncs and closes the active segment and waits for every seal. */
  async finish(): Promise<void> {
    await this.file.sync();
    await this.file.close();
    await this.sealing;
    if (this.sealError !== undefined) throw this.sealError;
  }

  /** Closes the file without finishing (after a failure). */
  async abort(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await this.sealing.catch(() => undefined);
  }

  private async write(bytes: Uint8Array): Promise<void> {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let o = 0; o < buffer.byteLength; ) {
      const length = buffer.readUInt32LE(o + 4);
      const body = o + FRAME_HEADER_BYTES;
      buffer.writeUInt32LE(crc32(buffer.subarray(body, body + length)), o + 8);
      o = body + length;
    }
    await this.file.write(bytes, this.offset);
    this.offset += bytes.byteLength;
    if (this.options.seal && this.options.parquet) this.pieces.push(buffer);
    else this.done(buffer);
  }

  /** A piece taken is no longer used here: its buffer is released once none of its pieces is. */
  private done(piece: Uint8Array): void {
    const release = this.options.release;
    if (release === undefined) return;
    const buffer = piece.buffer as ArrayBuffer;
    const left = (this.uses.get(buffer) ?? 1) - 1; // not counted: taken alone (take), its only piece
    if (left > 0) this.uses.set(buffer, left);
    else {
      this.uses.delete(buffer);
      release(buffer, 'bytes');
    }
  }

  /** Rotates to the next segment, as the store does, and seals the full one behind the writes (one seal at a time). */
  private async endSegment(): Promise<void> {
    const streams = this.columns.end();
    const { fs, dir } = this.options;
    await this.file.sync();
    await this.file.close();
    this.file = await fs.open(`${dir}/wal/${segmentName(this.segment + 1)}`, { create: true });
    await fs.syncDir(`${dir}/wal`);
    const segment = this.segment;
    this.segment++;
    this.offset = 0;
    const pieces = this.pieces.splice(0);
    if (!this.options.seal) return;
    const released = () => {
      for (const piece of pieces) this.done(piece);
    };
    const columns = streams.map((s) => (this.options.parquet ? { batch: s.batch, pieces, ranges: s.texts } : { batch: s.batch, dataTexts: [], metaTexts: [] }));
    // Bounded memory: a segment being sealed, and the next one filling.
    await this.sealing;
    if (this.sealError !== undefined) throw this.sealError;
    this.sealing = sealColumns({ fs, dir, segment, parquet: this.options.parquet, streams: columns }).then(
      () => released(),
      (e: unknown) => {
        this.sealError ??= e;
      },
    );
  }
}
