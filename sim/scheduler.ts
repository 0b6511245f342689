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

/**
 * Pending callbacks live in slots (parallel arrays, reused through a free list) rather than in a Map
 * of per-step objects: a step allocates nothing but its callback. A handle is `generation × SLOTS +
 * slot`; a slot's generation moves on when the slot is freed, so cancelling a step that already ran
 * (or was cancelled) can never hit the slot's next occupant.
 */
const SLOTS = 2 ** 24;

export class Scheduler {
  private readonly queue = new TimeQueue();
  private readonly fns: Array<(() => void) | undefined> = [];
  private readonly labels: string[] = [];
  private readonly batches: Array<object | undefined> = [];
  private readonly generations: number[] = [];
  private readonly free: number[] = [];
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

  /**
   * Schedules `fn` at `timeMs` (not before now); returns a handle for `cancel`. Ties run in the order
   * scheduled. Steps of the same `batch` (an identity, e.g. one node's connection) that come one
   * right after the other at the same time run as one step: their callbacks back to back, then
   * their promise continuations — as messages that arrive in one read off a socket.
   */
  at(timeMs: number, fn: () => void, label = 'timer', batch?: object): number {
    if (Number.isNaN(timeMs)) throw new RangeError(`scheduler: step '${label}' at NaN`);
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.fns.length;
      if (slot >= SLOTS) throw new RangeError(`scheduler: more than ${SLOTS} pending steps`);
      this.fns.push(fn);
      this.labels.push(label);
      this.batches.push(batch);
      this.generations.push(0);
    } else {
      this.fns[slot] = fn;
      this.labels[slot] = label;
      this.batches[slot] = batch;
    }
    this.queue.push(timeMs > this.nowValue ? timeMs : this.nowValue, this.seq++, slot);
    return (this.generations[slot] as number) * SLOTS + slot;
  }

  after(delayMs: number, fn: () => void, label?: string): number {
    return this.at(this.nowValue + Math.max(0, delayMs), fn, label);
  }

  /** Cancels a pending step; a handle of a step that ran or was cancelled is ignored. */
  cancel(handle: number): void {
    const slot = handle % SLOTS;
    if (this.generations[slot] === (handle - slot) / SLOTS) this.fns[slot] = undefined;
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
          const queue = this.queue;
          while (queue.size > 0 && queue.peekTime() <= untilMs) {
            if (stop?.()) {
              finished = true;
              return resolve();
            }
            const time = queue.peekTime();
            const slot = queue.pop();
            const fn = this.fns[slot];
            const label = this.labels[slot] as string;
            const batch = this.batches[slot];
            this.release(slot);
            if (fn === undefined) continue; // cancelled
            this.nowValue = time;
            this.steps++;
            this.onStep?.(time, this.steps, label);
            fn();
            // The rest of the batch: the steps right after this one, at the same time, of the same batch.
            while (batch !== undefined && queue.size > 0 && queue.peekTime() === time && this.batches[queue.peekId()] === batch) {
              const more = queue.pop();
              const moreFn = this.fns[more];
              this.release(more);
              moreFn?.();
            }
            if (lastOfTurn) queueTurn();
            return;
          }
          // Nothing else is due before `untilMs`: time passes to it.
          if (queue.peekTime() > untilMs) this.nowValue = Math.max(this.nowValue, untilMs);
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

  /** Frees a popped step's slot; its handle no longer cancels anything. */
  private release(slot: number): void {
    this.fns[slot] = undefined;
    this.labels[slot] = '';
    this.batches[slot] = undefined;
    this.generations[slot] = (this.generations[slot] as number) + 1;
    this.free.push(slot);
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
