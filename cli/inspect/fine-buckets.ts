/**
 * The precomputed aggregate held in memory: counts per (lane, category, fine bucket), as parallel
 * typed arrays sorted by bucket. A zoom level coarser than a bucket is a binary search and one loop
 * over the buckets in view — no query, well under a millisecond for tens of thousands of entries.
 */
import type { Category } from './types.ts';

export class FineBuckets {
  private constructor(
    readonly lanes: readonly string[],
    readonly categories: readonly Category[],
    private readonly lane: Int32Array,
    private readonly category: Int32Array,
    private readonly bucket: Int32Array,
    private readonly count: Float64Array,
  ) {}

  /** From columns of (lane, category, b, n), sorted by b. */
  static fromColumns(laneOf: readonly string[], categoryOf: readonly Category[], b: readonly number[], n: readonly number[]): FineBuckets {
    const lanes: string[] = [];
    const categories: Category[] = [];
    const laneIndex = new Map<string, number>();
    const categoryIndex = new Map<Category, number>();
    const lane = new Int32Array(b.length);
    const category = new Int32Array(b.length);
    for (let i = 0; i < b.length; i++) {
      const l = laneOf[i] as string;
      const c = categoryOf[i] as Category;
      if (!laneIndex.has(l)) laneIndex.set(l, lanes.push(l) - 1);
      if (!categoryIndex.has(c)) categoryIndex.set(c, categories.push(c) - 1);
      lane[i] = laneIndex.get(l) as number;
      category[i] = categoryIndex.get(c) as number;
      if (i > 0 && (b[i] as number) < (b[i - 1] as number)) throw new Error('FineBuckets.fromColumns: buckets must be sorted');
    }
    return new FineBuckets(lanes, categories, lane, category, Int32Array.from(b), Float64Array.from(n));
  }

  get size(): number {
    return this.bucket.length;
  }

  /**
   * Calls `add(lane, category, column, n)` for every entry whose bucket centre (fromMs + b * fineMs)
   * falls in [windowFromMs, windowFromMs + columns * colMs).
   */
  forEachInView(fromMs: number, fineMs: number, windowFromMs: number, colMs: number, columns: number, add: (lane: string, category: Category, column: number, n: number) => void): void {
    const firstBucket = Math.floor((windowFromMs - fromMs) / fineMs);
    for (let i = this.lowerBound(firstBucket); i < this.bucket.length; i++) {
      const column = Math.floor((fromMs + (this.bucket[i] as number) * fineMs - windowFromMs) / colMs);
      if (column >= columns) break;
      if (column < 0) continue;
      add(this.lanes[this.lane[i] as number] as string, this.categories[this.category[i] as number] as Category, column, this.count[i] as number);
    }
  }

  private lowerBound(b: number): number {
    let lo = 0;
    let hi = this.bucket.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.bucket[mid] as number) < b) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
