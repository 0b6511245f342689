/**
 * A column scan's file reads, one ahead: the scan starts reading the next column file before it hands
 * out this one's batch, so the disk (or the page-cache copy, on thread-pool threads) works while the
 * consumer folds. Files land in buffers reused for the whole scan, in turn: a fresh buffer per file
 * costs more than the read (file-system.ts).
 *
 * On the real file system a scan that names its `fields` reads only the columns it hands out now
 * (key, type, time, those fields; column-layout.ts), and seq and position when first used
 * (lean-column-batch.ts; in a worker thread, for a shared scan, by the worker from the file): ~30%
 * fewer bytes to read and checksum on the replay benchmark's files. The rest read whole files as
 * before: a scan without `fields` asks for everything (`spive store verify` relies on it checking
 * every block), and other file systems (the simulated disk) have no synchronous reads.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import type { ColumnBatch } from '../event-store.ts';
import { SCAN_SLOTS, SHARED_SCAN_SLOTS, type ScanBuffer, type ScanBuffers } from '../scan-buffers.ts';
import { ColumnFileBlocks } from './column-blocks.ts';
import { readColumnLayout, type ColumnLayoutCache } from './column-layout.ts';
import { decodeColumnFile, type ColumnFileInfo } from './columnar-segment.ts';
import type { FileSystem } from './file-system.ts';
import { nodeFileSystem } from './node-file-system.ts';
import { assert } from '../../util/assert.ts';
import { readLeanBatch } from './lean-column-batch.ts';

/**
 * Buffers a store keeps from one scan to the next: a fresh 26 MiB buffer costs ~90 ms of page faults
 * and zeroing (measured), more than reading a file into it from the page cache.
 */
export class ScanBufferPool {
  private free: ScanBuffer[] = [];

  take(bytes: number): ScanBuffer | undefined {
    const i = this.free.findIndex((b) => b.bytes.byteLength >= bytes);
    return i < 0 ? undefined : this.free.splice(i, 1)[0];
  }

  give(buffer: ScanBuffer): void {
    if (this.free.length < 2) this.free.push(buffer);
  }

  clear(): void {
    this.free = [];
  }
}

export class ColumnFileReads {
  private readonly slots: Array<ScanBuffer | undefined>;
  private readonly shared: boolean;
  private readonly lean: boolean;
  private turn = 0;
  private failed = false;

  /**
   * `shared`: SharedArrayBuffers, SHARED_SCAN_SLOTS in turn (batches being folded, the one handed out
   * next, the one being read), so a batch stays valid until three more have been read. Otherwise two: the
   * batch handed out and the one being read, so a batch is valid until the next one is handed out.
   * They are the consumer's `lent` buffers, filled in place so that its next scan finds them; or else
   * they come from and go back to `pool` (not shared ones: see release).
   */
  constructor(
    private readonly fs: FileSystem,
    shared: boolean,
    private readonly pool?: ScanBufferPool,
    private readonly layouts?: ColumnLayoutCache,
    private readonly lent?: ScanBuffers,
  ) {
    this.shared = shared;
    this.slots = lent?.slots ?? new Array<ScanBuffer | undefined>(shared ? SHARED_SCAN_SLOTS : SCAN_SLOTS).fill(undefined);
    assert(lent === undefined || lent.shared === shared, 'lent scan buffers are shared exactly when the scan is');
    assert(this.slots.length === (shared ? SHARED_SCAN_SLOTS : SCAN_SLOTS), 'a shared scan takes SHARED_SCAN_SLOTS buffers in turn, any other SCAN_SLOTS');
    this.lean = fs === nodeFileSystem;
  }

  /** Starts reading the file of `info` (the manifest's entry) into the next buffer in turn. */
  start(path: string, info: ColumnFileInfo, wanted: readonly string[] | undefined): Promise<ColumnBatch> {
    const slot = this.turn++ % this.slots.length;
    let buffer = this.slots[slot];
    if (buffer === undefined || buffer.bytes.byteLength < info.bytes) {
      buffer = this.slots[slot] = (this.shared || this.lent !== undefined ? undefined : this.pool?.take(info.bytes)) ?? this.allocate(info.bytes);
    }
    const into = buffer;
    const use = ++into.uses;
    const reading = this.lean && wanted !== undefined
      ? readLean(path, info, into.bytes, wanted, () => into.uses === use, this.layouts, this.shared)
      : this.fs.readFileInto(path, into.bytes).then((bytes) => decodeColumnFile(path, info, bytes, wanted));
    // Reported when its batch is due; a scan stopped before then drops it.
    reading.catch(() => {
      this.failed = true;
    });
    return reading;
  }

  /**
   * At the end of a scan (every read settled): the buffers back to the pool, except the one of the
   * batch handed out last, which stays valid for as long as the consumer keeps it. `ahead`: the
   * last read started was not handed out. After a failed read nothing goes back (the consumer may
   * still hold the batch before it).
   */
  release(ahead: boolean): void {
    if (this.pool === undefined || this.shared || this.lent !== undefined || this.failed) return;
    const last = this.turn - (ahead ? 2 : 1);
    this.slots.forEach((buffer, slot) => {
      if (buffer !== undefined && (last < 0 || slot !== last % this.slots.length)) (this.pool as ScanBufferPool).give(buffer);
      this.slots[slot] = undefined;
    });
  }

  private allocate(bytes: number): ScanBuffer {
    // Rounded up so that files of similar size fit; a file longer than the manifest says is read into
    // a new buffer and fails decodeColumnFile's length check.
    const size = Math.ceil(bytes / 2 ** 20) * 2 ** 20;
    return { bytes: this.shared ? new Uint8Array(new SharedArrayBuffer(size)) : new Uint8Array(size), uses: 0 };
  }
}

/**
 * Reads the file's layout (or takes it from `layouts`), then the columns handed out now; a file of
 * another layout is read whole. Opened synchronously, with a known layout every read is issued in the
 * call itself: the reads need no turn of the main thread while the consumer folds the batch before.
 */
async function readLean(path: string, info: ColumnFileInfo, buffer: Uint8Array, wanted: readonly string[] | undefined, valid: () => boolean, layouts: ColumnLayoutCache | undefined, shared: boolean): Promise<ColumnBatch> {
  const fd = openSync(path, 'r');
  try {
    ColumnFileBlocks.checkSize(path, info, fstatSync(fd).size);
    const blocks = new ColumnFileBlocks(path, info, buffer);
    let layout = layouts?.get(path, info);
    if (layout === undefined) {
      layout = await readColumnLayout(blocks, fd);
      layouts?.set(path, info, layout);
    }
    if (layout !== null) return await readLeanBatch(blocks, fd, layout, wanted, valid, shared);
    await blocks.load(fd, [[0, info.bytes]]);
    return decodeColumnFile(path, info, buffer.subarray(0, info.bytes), wanted);
  } finally {
    closeSync(fd);
  }
}
