/**
 * Timers that fire only when a test (or the simulator's scheduler) advances a ManualClock through
 * them: deterministic, instant, in (due time, creation order).
 */
import type { ManualClock } from './clock.ts';
import { timersFrom, type TimerHandle, type Timers } from './timers.ts';

interface Pending {
  readonly dueMs: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export class ManualTimers implements Timers {
  private pending: Pending[] = [];
  private seq = 0;

  constructor(private readonly clock: ManualClock) {}

  after(delayMs: number, fn: () => void): TimerHandle {
    const entry: Pending = { dueMs: this.clock.nowMs() + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.pending.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return timersFrom((d, fn) => this.after(d, fn)).sleep(delayMs, signal);
  }

  /** Timers not yet fired or cancelled. */
  get size(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /**
   * Moves the clock forward by `ms`, firing every timer that falls due, in order, and letting
   * promise continuations run between timers (so a timer scheduled by a fired one fires too).
   */
  async advance(ms: number): Promise<void> {
    const end = this.clock.nowMs() + ms;
    for (;;) {
      await settleMicrotasks();
      this.pending = this.pending.filter((p) => !p.cancelled);
      let next: Pending | undefined;
      for (const p of this.pending) if (p.dueMs <= end && (next === undefined || p.dueMs < next.dueMs || (p.dueMs === next.dueMs && p.seq < next.seq))) next = p;
      if (next === undefined) break;
      this.pending.splice(this.pending.indexOf(next), 1);
      if (next.dueMs > this.clock.nowMs()) this.clock.set(next.dueMs);
      next.fn();
    }
    this.clock.set(end);
    await settleMicrotasks();
  }
}

/** Lets pending promise continuations run (a few macrotask-free rounds). */
async function settleMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
