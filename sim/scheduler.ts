/**
 * The deterministic scheduler: simulated time and the one queue of pending steps. A step is a
 * callback at a simulated time; after each step the scheduler lets every promise continuation it
 * started run to completion (one `setImmediate` turn: all microtasks first) before taking the next,
 * so the interleaving of async code is a pure function of the seed.
 */
import type { Clock } from '../src/time/clock.ts';
import type { TimerHandle, Timers } from '../src/time/timers.ts';
import { TimeQueue } from './time-queue.ts';

/** Simulated time starts at this wall-clock instant (2026-01-01T00:00:00Z), so event times look real. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

export interface StepInfo {
  readonly timeMs: number;
  readonly seq: number;
  readonly label: string;
}

export class Scheduler {
  private readonly queue = new TimeQueue();
  /** Pending callbacks by id. Ids are never reused, so cancelling a fired timer cannot hit another. */
  private readonly callbacks = new Map<number, { fn: () => void; label: string }>();
  private seq = 0;
  private nowValue = 0;
  steps = 0;
  /** Called before each step runs (the trace recorder listens here). */
  onStep: ((step: StepInfo) => void) | undefined;

  /** Simulated time in ms since SIM_EPOCH_MS. */
  get now(): number {
    return this.nowValue;
  }

  /** The global simulated clock (no skew). */
  readonly clock: Clock = {
    nowMs: () => SIM_EPOCH_MS + this.nowValue,
    monotonicMs: () => this.nowValue,
  };

  at(timeMs: number, fn: () => void, label = 'timer'): number {
    if (Number.isNaN(timeMs)) throw new RangeError(`scheduler: step '${label}' at NaN`);
    const id = this.seq++;
    this.callbacks.set(id, { fn, label });
    this.queue.push(Math.max(timeMs, this.nowValue), id, id);
    return id;
  }

  after(delayMs: number, fn: () => void, label?: string): number {
    return this.at(this.nowValue + Math.max(0, delayMs), fn, label);
  }

  cancel(id: number): void {
    this.callbacks.delete(id);
  }

  get pending(): number {
    return this.queue.size;
  }

  get nextTime(): number {
    return this.queue.peekTime();
  }

  /**
   * Runs steps in (time, seq) order until the queue is empty, simulated time would pass `untilMs`,
   * or `stop()` returns true (checked between steps).
   */
  async run(untilMs: number, stop?: () => boolean): Promise<void> {
    await settle();
    while (this.queue.size > 0 && this.queue.peekTime() <= untilMs) {
      if (stop?.()) return;
      const time = this.queue.peekTime();
      const id = this.queue.pop();
      const entry = this.callbacks.get(id);
      if (entry === undefined) continue; // cancelled
      this.callbacks.delete(id);
      this.nowValue = time;
      this.steps++;
      this.onStep?.({ timeMs: time, seq: this.steps, label: entry.label });
      entry.fn();
      await settle();
    }
    // Nothing else is due before `untilMs`: time passes to it.
    if (this.queue.peekTime() > untilMs) this.nowValue = Math.max(this.nowValue, untilMs);
  }

  /** Timers on this scheduler as seen by a node whose clock runs at `rate` (1 = true time). */
  timers(rate = 1): Timers {
    const scheduler = this;
    return {
      after(delayMs: number, fn: () => void): TimerHandle {
        const id = scheduler.after(delayMs / rate, fn);
        return { cancel: () => scheduler.cancel(id) };
      },
      sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
        return new Promise((resolve, reject) => {
          if (signal?.aborted) return reject(signal.reason);
          const onAbort = () => {
            scheduler.cancel(id);
            reject(signal?.reason);
          };
          const id = scheduler.after(delayMs / rate, () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          });
          signal?.addEventListener('abort', onAbort, { once: true });
        });
      },
    };
  }
}

/** Lets every pending promise continuation run: a setImmediate callback runs after all microtasks. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
