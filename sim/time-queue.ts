/**
 * The scheduler's priority queue: a binary min-heap of (time, seq) kept in parallel typed arrays,
 * so millions of pending steps cost no per-step objects (see FACTS.md: typed arrays sustain ~9-14M
 * push+pop/s, objects ~0.6M). `seq` breaks ties in insertion order, which makes the order total.
 */
export class TimeQueue {
  private times = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private ids = new Float64Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(timeMs: number, seq: number, id: number): void {
    if (this.count === this.times.length) this.grow();
    let i = this.count++;
    // Sift up.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(timeMs, seq, this.times[parent] as number, this.seqs[parent] as number)) break;
      this.times[i] = this.times[parent] as number;
      this.seqs[i] = this.seqs[parent] as number;
      this.ids[i] = this.ids[parent] as number;
      i = parent;
    }
    this.times[i] = timeMs;
    this.seqs[i] = seq;
    this.ids[i] = id;
  }

  peekTime(): number {
    return this.count === 0 ? Number.POSITIVE_INFINITY : (this.times[0] as number);
  }

  /** The id of the earliest entry (-1 when empty). */
  peekId(): number {
    return this.count === 0 ? -1 : (this.ids[0] as number);
  }

  /** Removes the earliest entry and returns its id (-1 when empty). */
  pop(): number {
    if (this.count === 0) return -1;
    const top = this.ids[0] as number;
    const last = --this.count;
    if (last > 0) {
      const t = this.times[last] as number;
      const s = this.seqs[last] as number;
      const id = this.ids[last] as number;
      let i = 0;
      // Sift down.
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        let c = l;
        if (r < last && this.less(this.times[r] as number, this.seqs[r] as number, this.times[l] as number, this.seqs[l] as number)) c = r;
        if (!this.less(this.times[c] as number, this.seqs[c] as number, t, s)) break;
        this.times[i] = this.times[c] as number;
        this.seqs[i] = this.seqs[c] as number;
        this.ids[i] = this.ids[c] as number;
        i = c;
      }
      this.times[i] = t;
      this.seqs[i] = s;
      this.ids[i] = id;
    }
    return top;
  }

  private less(t1: number, s1: number, t2: number, s2: number): boolean {
    return t1 < t2 || (t1 === t2 && s1 < s2);
  }

  private grow(): void {
    const n = this.times.length * 2;
    const times = new Float64Array(n);
    const seqs = new Float64Array(n);
    const ids = new Float64Array(n);
    times.set(this.times);
    seqs.set(this.seqs);
    ids.set(this.ids);
    this.times = times;
    this.seqs = seqs;
    this.ids = ids;
  }
}
