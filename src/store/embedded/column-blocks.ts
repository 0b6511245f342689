/**
 * The checked 1 MiB blocks of one sealed column file that a scan reads, when it reads only some of
 * the file's columns (column-layout.ts): each block is read at its own offset into the scan's buffer,
 * so the file's layout is kept and columns map zero-copy, and its CRC-32 from the manifest is checked
 * before any byte of it is used. Blocks a scan never reads are never used either, so every byte a
 * batch hands out is verified, as when the whole file is read.
 *
 * Reads are async on the thread pool, every piece issued at once: a file's reads then need no turn of
 * the main thread until they are all done, so they go on while a consumer folds the batch before
 * (a chain of awaited reads moved one step per fold of a file). `loadSync` is the exception: a
 * batch's seq and position columns are read on first use, inside a handler call.
 */
import { closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { CorruptDataError } from '../../model/errors.ts';
import { COLUMN_BLOCK_BYTES, type ColumnFileInfo } from './columnar-segment.ts';

/** A byte range of the file: [from, to). */
export type ByteRange = readonly [number, number];

/** Bytes per read (measured in node-file-system.ts); the thread pool runs four at a time. */
const PIECE_BYTES = 4 << 20;

export class ColumnFileBlocks {
  private readonly loaded: Uint8Array;

  /** `buffer` holds at least the manifest's `bytes`; block b lands at offset b * 1 MiB. */
  constructor(
    readonly path: string,
    readonly info: ColumnFileInfo,
    readonly buffer: Uint8Array,
  ) {
    this.loaded = new Uint8Array(info.blockCrcs.length);
  }

  /** Checks the open file's length against the manifest (a torn or replaced file fails here). */
  static checkSize(path: string, info: ColumnFileInfo, size: number): void {
    if (size !== info.bytes) throw new CorruptDataError(path, Math.min(size, info.bytes), `file is ${size} bytes, manifest says ${info.bytes}`);
  }

  /** Reads and verifies the blocks covering `ranges` that are not loaded yet (`fd`: the file, open). */
  async load(fd: number, ranges: readonly ByteRange[]): Promise<void> {
    const pieces: Array<Promise<void>> = [];
    for (const [from, to] of this.runs(ranges)) for (let o = from; o < to; o += PIECE_BYTES) pieces.push(this.readPiece(fd, o, Math.min(to, o + PIECE_BYTES)));
    await Promise.all(pieces);
    this.verify(ranges);
  }

  /** Reads [from, to) of the file into the buffer at the same offset (a short read goes on where it stopped). */
  private readPiece(fd: number, from: number, to: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const next = (at: number): void => {
        if (at >= to) return resolve();
        read(fd, this.buffer, at, to - at, at, (e, n) => {
          if (e !== null) reject(e);
          else if (n === 0) reject(this.shortRead(at));
          else next(at + n);
        });
      };
      next(from);
    });
  }

  /** `load`, synchronously (a lazily read column; the file is opened for the call). */
  loadSync(ranges: readonly ByteRange[]): void {
    const runs = this.runs(ranges);
    if (runs.length === 0) return;
    const fd = openSync(this.path, 'r');
    try {
      ColumnFileBlocks.checkSize(this.path, this.info, fstatSync(fd).size);
      for (const [from, to] of runs) {
        for (let at = from; at < to; ) {
          const n = readSync(fd, this.buffer, at, to - at, at);
          if (n === 0) throw this.shortRead(at);
          at += n;
        }
      }
    } finally {
      closeSync(fd);
    }
    this.verify(ranges);
  }

  /** The not-yet-loaded blocks covering `ranges`, as merged byte ranges. */
  private runs(ranges: readonly ByteRange[]): ByteRange[] {
    const want = new Uint8Array(this.loaded.length);
    for (const [from, to] of ranges) {
      this.checkRange(from, to);
      for (let b = Math.floor(from / COLUMN_BLOCK_BYTES); b * COLUMN_BLOCK_BYTES < to; b++) if (this.loaded[b] === 0) want[b] = 1;
    }
    const runs: ByteRange[] = [];
    for (let b = 0; b < want.length; b++) {
      if (want[b] === 0) continue;
      let end = b;
      while (end < want.length && want[end] === 1) end++;
      runs.push([b * COLUMN_BLOCK_BYTES, Math.min(this.info.bytes, end * COLUMN_BLOCK_BYTES)]);
      b = end;
    }
    return runs;
  }

  private verify(ranges: readonly ByteRange[]): void {
    for (const [from, to] of ranges) {
      for (let b = Math.floor(from / COLUMN_BLOCK_BYTES); b * COLUMN_BLOCK_BYTES < to; b++) {
        if (this.loaded[b] === 1) continue;
        const o = b * COLUMN_BLOCK_BYTES;
        if (crc32(this.buffer.subarray(o, Math.min(this.info.bytes, o + COLUMN_BLOCK_BYTES))) !== this.info.blockCrcs[b]) {
          throw new CorruptDataError(this.path, o, `checksum mismatch in the ${COLUMN_BLOCK_BYTES}-byte block starting here`);
        }
        this.loaded[b] = 1;
      }
    }
  }

  private checkRange(from: number, to: number): void {
    if (!(Number.isSafeInteger(from) && Number.isSafeInteger(to) && from >= 0 && from <= to && to <= this.info.bytes)) {
      throw new CorruptDataError(this.path, 0, `column bytes [${from}, ${to}) lie outside the file's ${this.info.bytes} bytes`);
    }
  }

  private shortRead(at: number): CorruptDataError {
    return new CorruptDataError(this.path, at, `file ends at byte ${at}, manifest says ${this.info.bytes}`);
  }
}
