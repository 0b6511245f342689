/**
 * A runner's output appends that were submitted and have not settled yet: a count, and waiters woken
 * as it drops. Each append costs one `then` on the store's own promise; a Set of `finally`-wrapped
 * promises (what this replaces) cost three more promises per append, and Promise.all / race over a
 * copy of the set per wait. Waiters are woken in the microtask that settles the append.
 */
interface Waiter {
  /** Woken once fewer than this many are in flight. */
  readonly below: number;
  readonly wake: () => void;
}

export class InFlight {
  private count = 0;
  private waiters: Waiter[] = [];

  get size(): number {
    return this.count;
  }

  /** Tracks `attempt`: `onValue` or `onError` handles its outcome, then it no longer counts. */
  add<T>(attempt: Promise<T>, onValue: (value: T) => void, onError: (error: unknown) => void): void {
    this.count++;
    attempt.then(
      (value) => {
        try {
          onValue(value);
        } finally {
          this.settled();
        }
      },
      (error: unknown) => {
        try {
          onError(error);
        } finally {
          this.settled();
        }
      },
    );
  }

  /** Resolves once fewer than `n` appends are in flight (at once when that is so already). */
  below(n: number): Promise<void> {
    if (this.count < n) return Promise.resolve();
    return new Promise<void>((wake) => this.waiters.push({ below: n, wake }));
  }

  /** Resolves once nothing is in flight. */
  empty(): Promise<void> {
    return this.below(1);
  }

  private settled(): void {
    this.count--;
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.count < w.below) w.wake();
      else still.push(w);
    }
    this.waiters = still;
  }
}
