/**
 * A runner's output appends that were submitted and have not settled yet: a count, and waiters woken
 * as it drops. Each append costs one `then` on the store's own promise, with the two handlers of one
 * `Tracked` object; a Set of `finally`-wrapped promises (what this replaced) cost three more promises
 * per append, and Promise.all / race over a copy of the set per wait. Waiters are woken in the
 * microtask that settles the append.
 */
interface Waiter {
  /** Woken once fewer than this many are in flight. */
  readonly below: number;
  readonly wake: () => void;
}

/**
 * One tracked attempt: what to do with its value or its error. A subclass per kind of attempt keeps
 * what its outcome is checked against as fields, so an append costs this object rather than a
 * closure and context of its own per outcome.
 */
export interface Tracked<T> {
  /** The attempt succeeded with `value`. */
  landed(value: T): void;
  /** The attempt failed with `error`. */
  failed(error: unknown): void;
}

export class InFlight {
  private count = 0;
  private waiters: Waiter[] = [];

  get size(): number {
    return this.count;
  }

  /** Tracks `attempt`: `outcome` handles its value or error, then it no longer counts. */
  add<T>(attempt: Promise<T>, outcome: Tracked<T>): void {
    this.count++;
    // Unnamed arrows: tsx (keepNames) wraps every named function in a `__name` call as it is made.
    attempt.then(
      (value) => {
        try {
          outcome.landed(value);
        } finally {
          this.settled();
        }
      },
      (error: unknown) => {
        try {
          outcome.failed(error);
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

  /** One tracked attempt settled (its handler has run). */
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
