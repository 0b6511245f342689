/**
 * Shard tasks shared out among several replay processes (`spive replay --workers-from <store>`): each
 * process offers the same tasks, then claims batches of them until none is left. A claim is held for a
 * while and renewed by its holder; when a process dies its claims lapse and another takes them over —
 * safe because a shard's replay continues what an interrupted one wrote (fork.ts). A phase is one
 * process of the plan; downstream phases start once their upstream phase is finished everywhere.
 */
export interface TaskClaims {
  /** Registers a phase's tasks by key. Idempotent: every replay process offers the same ones. */
  offer(phase: string, keys: readonly string[]): Promise<void>;
  /**
   * Up to `max` tasks of the phase that are not done and not held by a live claim, now claimed by
   * this process. Waits while all that is left is held by others; [] once every task is done.
   */
  claim(phase: string, max: number): Promise<string[]>;
  /** Marks claimed tasks done (and releases them). */
  done(phase: string, keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** Claims shared by replays in one process (tests, and the shape the store-backed ones follow). */
export class MemoryTaskClaims implements TaskClaims {
  private readonly phases = new Map<string, Map<string, 'pending' | 'held' | 'done'>>();
  /** Claimers waiting for tasks held by others to be done. */
  private waiting: Array<() => void> = [];

  async offer(phase: string, keys: readonly string[]): Promise<void> {
    let tasks = this.phases.get(phase);
    if (tasks === undefined) this.phases.set(phase, (tasks = new Map()));
    for (const key of keys) if (!tasks.has(key)) tasks.set(key, 'pending');
  }

  async claim(phase: string, max: number): Promise<string[]> {
    const tasks = this.phases.get(phase);
    if (tasks === undefined) return [];
    for (;;) {
      const out: string[] = [];
      for (const [key, state] of [...tasks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (out.length >= max) break;
        if (state !== 'pending') continue;
        tasks.set(key, 'held');
        out.push(key);
      }
      if (out.length > 0 || ![...tasks.values()].includes('held')) return out;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  async done(phase: string, keys: readonly string[]): Promise<void> {
    const tasks = this.phases.get(phase);
    for (const key of keys) tasks?.set(key, 'done');
    const woken = this.waiting;
    this.waiting = [];
    for (const wake of woken) wake();
  }

  async close(): Promise<void> {}
}
