/**
 * The deterministic scheduler: simulated time and the one queue of pending steps. A step is a
 * callback at a simulated time; after each step the scheduler lets every promise continuation it
 * started run to completion (all microtasks and nextTicks) before taking the next, so the
 * interleaving of async code is a pure function of the seed.
 *
 * How: each step runs in its own `setImmediate` callback, and Node drains the nextTick and microtask
 * queues completely after every immediate callback, also between two callbacks of the same
 * event-loop turn (since Node 11). `run` queues them in batches of STEPS_PER_TURN, so a step costs
 * one immediate callback rather than a whole event-loop turn (a promise, an immediate, an async
 * resumption and a libuv poll). Callbacks left over when a run ends do nothing.
 */
import type { Clock } from '../src/time/clock.ts';
import { timersFrom, type TimerHandle, type Timers } from '../src/time/timers.ts';
import { TimeQueue } from './time-queue.ts';

/** Simulated time starts at this wall-clock instant (2026-01-01T00:00:00Z), so event times look real. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

/** Immediate callbacks queued at a time by `run` (one step each); more are queued as the last one runs. */
const STEPS_PER_TURN = 32;

export class Scheduler {
  private readonly queue = new TimeQueue();
  /** Pending callbacks by id. Ids are never reused, so cancelling a fired timer cannot hit another. */
  private readonly callbacks = new Map<number, { fn: () => void; label: string }>();
  private seq = 0;
  private nowValue = 0;
  steps = 0;
  /** Called before each step runs, with its time, number and label (the trace recorder listens here; no object per step). */
  onStep: ((timeMs: number, seq: number, label: string) => void) | undefined;

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
  run(untilMs: number, stop?: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let finished = false;
      const queueTurn = () => {
        for (let i = 1; i <= STEPS_PER_TURN; i++) setImmediate(next, i === STEPS_PER_TURN);
      };
      // One step per call; every continuation of the previous step has run (Node drained them).
      const next = (lastOfTurn: boolean): void => {
        if (finished) return;
        try {
          while (this.queue.size > 0 && this.queue.peekTime() <= untilMs) {
            if (stop?.()) {
              finished = true;
              return resolve();
            }
            const time = this.queue.peekTime();
            const id = this.queue.pop();
            const entry = this.callbacks.get(id);
            if (entry === undefined) continue; // cancelled
            this.callbacks.delete(id);
            this.nowValue = time;
            this.steps++;
            this.onStep?.(time, this.steps, entry.label);
            entry.fn();
            if (lastOfTurn) queueTurn();
            return;
          }
          // Nothing else is due before `untilMs`: time passes to it.
          if (this.queue.peekTime() > untilMs) this.nowValue = Math.max(this.nowValue, untilMs);
          finished = true;
          resolve();
        } catch (error) {
          finished = true;
          reject(error);
        }
      };
      queueTurn();
    });
  }

  /** Timers on this scheduler as seen by a node whose clock runs at `rate` (1 = true time). */
  timers(rate = 1): Timers {
    return timersFrom((delayMs, fn): TimerHandle => {
      const id = this.after(delayMs / rate, fn);
      return { cancel: () => this.cancel(id) };
    });
  }
}

/** Lets every pending promise continuation run (one event-loop turn: a setImmediate callback runs after all microtasks). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
