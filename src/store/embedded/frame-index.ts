/**
 * Where every events record lives: one row per WAL frame (segment, offset, length, first position,
 * first seq, count), plus per-stream and per-shard lists of frame ids. Kept in memory; rebuilt from
 * the WAL on open from the records' small meta parts.
 */
import { shardId } from '../store-state.ts';
import type { EventsMeta } from './wal-records.ts';

export interface FrameLocation {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

export class FrameIndex {
  readonly segment: number[] = [];
  readonly offset: number[] = [];
  readonly length: number[] = [];
  readonly firstPosition: number[] = [];
  readonly firstSeq: number[] = [];
  readonly count: number[] = [];
  readonly stream: string[] = [];
  readonly key: string[] = [];
  private readonly byStream = new Map<string, number[]>();
  private readonly byShard = new Map<string, number[]>();

  get size(): number {
    return this.segment.length;
  }

  add(meta: EventsMeta, at: FrameLocation): void {
    const id = this.segment.length;
    this.segment.push(at.segment);
    this.offset.push(at.offset);
    this.length.push(at.length);
    this.firstPosition.push(meta.p);
    this.firstSeq.push(meta.q);
    this.count.push(meta.n);
    this.stream.push(meta.s);
    this.key.push(meta.k);
    listFor(this.byStream, meta.s).push(id);
    listFor(this.byShard, shardId(meta.s, meta.k)).push(id);
  }

  streamFrames(stream: string): readonly number[] {
    return this.byStream.get(stream) ?? [];
  }

  shardFrames(stream: string, key: string): readonly number[] {
    return this.byShard.get(shardId(stream, key)) ?? [];
  }

  /** Index into `ids` (default: all frames) of the first frame holding anything at or after `position`. */
  firstFrameAtPosition(ids: readonly number[] | undefined, position: number): number {
    if (ids === undefined) return searchLast(this.size, (i) => this.firstPosition[i] as number, position);
    return searchLast(ids.length, (i) => this.firstPosition[ids[i] as number] as number, position);
  }

  /** Index into `ids` of the first frame holding anything at or after `seq`. */
  firstFrameAtSeq(ids: readonly number[], seq: number): number {
    return searchLast(ids.length, (i) => this.firstSeq[ids[i] as number] as number, seq);
  }
}

function listFor(map: Map<string, number[]>, id: string): number[] {
  let list = map.get(id);
  if (list === undefined) {
    list = [];
    map.set(id, list);
  }
  return list;
}

/**
 * Frames hold runs [first, first + count) in increasing order; returns the index of the last frame
 * whose first value is <= target (0 when none is), which is where a read from `target` starts.
 */
function searchLast(n: number, first: (i: number) => number, target: number): number {
  let lo = 0;
  let hi = n - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (first(mid) <= target) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
