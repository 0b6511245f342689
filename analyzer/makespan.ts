/**
 * Wall time of independent jobs on W workers. A shard is sequential (its events are replayed in
 * order, a time ray cannot be split), so each shard is one job; jobs are placed longest first on
 * the least-loaded worker (LPT, Graham 1969: within 4/3 of the optimum), which is also how the
 * replay engine hands out shard tasks. A hot key therefore bounds the wall time by itself.
 */
import { assert } from '../src/util/assert.ts';

export interface Makespan {
  readonly wallMs: number;
  /** Per-worker load (ms), for display. */
  readonly loads: readonly number[];
}

export function makespan(jobsMs: ArrayLike<number>, workers: number): Makespan {
  assert(Number.isInteger(workers) && workers >= 1, 'workers is a positive integer');
  const sorted = Float64Array.from(jobsMs).sort().reverse();
  const heap = new Float64Array(workers); // a min-heap of worker loads
  for (const job of sorted) {
    assert(job >= 0 && Number.isFinite(job), 'job costs are finite and non-negative');
    heap[0] = (heap[0] as number) + job;
    siftDown(heap, 0);
  }
  let wall = 0;
  for (const load of heap) wall = Math.max(wall, load);
  return { wallMs: wall, loads: Array.from(heap).sort((a, b) => b - a) };
}

function siftDown(heap: Float64Array, i: number): void {
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let smallest = i;
    if (l < n && (heap[l] as number) < (heap[smallest] as number)) smallest = l;
    if (r < n && (heap[r] as number) < (heap[smallest] as number)) smallest = r;
    if (smallest === i) return;
    const t = heap[i] as number;
    heap[i] = heap[smallest] as number;
    heap[smallest] = t;
    i = smallest;
  }
}
