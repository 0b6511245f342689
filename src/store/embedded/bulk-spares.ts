/**
 * Buffers a bulk load's sink thread has handed back (bulk-sink-thread.ts `Released`), for the writer
 * to encode frames and column records into again. A load moves gigabytes of frames to the thread;
 * encoding each piece into fresh memory cost both threads page faults, and the collections that
 * external memory on that scale triggers, where a few buffers going round suffice.
 */
import type { Released } from './bulk-sink-thread.ts';

/** Spares kept at most, of each kind (what is in flight is bounded by the writer; more is let go). */
const MAX_SPARES = 32;

export class SpareBuffers {
  private readonly chunks: ArrayBuffer[] = [];
  private readonly records: ArrayBuffer[] = [];
  /** Spares handed out so far. */
  reused = 0;

  /** `chunkBytes`: the size of the chunks frames are encoded into (others are not kept). */
  constructor(readonly chunkBytes: number) {}

  /** Keeps what the thread handed back. */
  add(released: Released): void {
    for (const b of released.bytes) if (b.byteLength === this.chunkBytes && this.chunks.length < MAX_SPARES) this.chunks.push(b);
    for (const b of released.records) if (this.records.length < MAX_SPARES) this.records.push(b);
  }

  /** A chunk of `chunkBytes` to encode into: a spare, or a new one. Its bytes are not zeroed. */
  chunk(): Buffer<ArrayBuffer> {
    const spare = this.chunks.pop();
    if (spare === undefined) return Buffer.allocUnsafeSlow(this.chunkBytes);
    this.reused++;
    return Buffer.from(spare);
  }

  /**
   * A spare records buffer of exactly `slots` numbers (not zeroed), if there is one. Spares of another
   * size are dropped: the writer's buffer only grows, and a small piece's records come back as a copy
   * of their own size, which would otherwise take the places of useful ones.
   */
  recordBuffer(slots: number): Float64Array | undefined {
    const bytes = 8 * slots;
    let found: ArrayBuffer | undefined;
    let kept = 0;
    for (const b of this.records) {
      if (b.byteLength !== bytes) continue;
      if (found === undefined) found = b;
      else this.records[kept++] = b;
    }
    this.records.length = kept;
    if (found === undefined) return undefined;
    this.reused++;
    return new Float64Array(found);
  }
}
