/**
 * A column scan's file reads, one ahead: the scan starts reading the next column file before it hands
 * out this one's batch, so the disk (or the page-cache copy, on thread-pool threads) works while the
 * consumer folds. Files land in buffers reused for the whole scan, in turn: a fresh buffer per file
 * costs more than the read (file-system.ts).
 */
import type { FileSystem } from './file-system.ts';

export class ColumnFileReads {
  private readonly buffers: Array<Uint8Array | undefined>;
  private turn = 0;

  /**
   * `shared`: SharedArrayBuffers, three in turn (the batch being folded, the one handed out next, the
   * one being read), so a batch stays valid until two more have been handed out. Otherwise two: the
   * batch handed out and the one being read, so a batch is valid until the next one is handed out.
   */
  constructor(
    private readonly fs: FileSystem,
    private readonly shared: boolean,
  ) {
    this.buffers = new Array<Uint8Array | undefined>(shared ? 3 : 2).fill(undefined);
  }

  /** Starts reading a file the manifest says is `bytes` long into the next buffer in turn. */
  start(path: string, bytes: number): Promise<Uint8Array> {
    const slot = this.turn++ % this.buffers.length;
    let buffer = this.buffers[slot];
    if (buffer === undefined || buffer.byteLength < bytes) {
      // Rounded up so that files of similar size fit; a file longer than the manifest says is read into
      // a new buffer and fails decodeColumnFile's length check.
      const size = Math.ceil(bytes / 2 ** 20) * 2 ** 20;
      buffer = this.buffers[slot] = this.shared ? new Uint8Array(new SharedArrayBuffer(size)) : new Uint8Array(size);
    }
    const reading = this.fs.readFileInto(path, buffer);
    reading.catch(() => undefined); // reported when its batch is due; a scan stopped before then drops it
    return reading;
  }
}
