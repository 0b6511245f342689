/**
 * The deterministic scheduler: simulated time and the one queue of pending steps. A step is a
 * callback at a simulated time; after each step the scheduler lets every promise continuation it
 * started run to completion (all microtasks and nextTicks) before taking the next, so the
 * interleaving of async code is a pure function of the seed.
 *
 * How: each step runs in its own `setImmediate` callback, and Node drains the nextTick and microtask
 * queues completely after every immediate callback, also between two callbacks of the same
 * event-loop turn (since Node 11). `run` queues them in batches (of up to STEPS_PER_TURN), so a step costs
 * one immediate callback rather than a whole event-loop turn (a promise, an immediate, an async
 * resumption and a libuv poll). Callbacks left over when a run ends are cleared.
 */
import type { Clock } from '../src/time/clock.ts';
import { timersFrom, type TimerHandle, type Timers } from '../src/time/timers.ts';
import { TimeQueue } from './time-queue.ts';

/** Simulated time starts at this wall-clock instant (2026-01-01T00:00:00Z), so event times look real. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

/**
 * The most immediate callbacks queued at a time by `run` (one step each); more are queued as the last
 * one runs. Each batch costs an event-loop turn (a libuv poll among them): with 32, the bank's
 * simulations spent ~8% of their time between turns, and 256 made them ~10% faster (1,024 and 4,096
 * measured the same as 256). Trace hashes do not depend on it: a step's continuations all run before
 * the next step, whatever the turn.
 */
const STEPS_PER_TURN = 256;

/**
 * Pending callbacks live in slots (parallel arrays, reused through a free list) rather than in a Map
 * of per-step objects: a step allocates nothing but its callback. A handle is `generation × SLOTS +
 * slot`; a slot's generation moves on when the slot is freed, so cancelling a step that already ran
 * (or was cancelled) can never hit the slot's next occupant.
 */
const SLOTS = 2 ** 24;

/**
 * A step as an object whose `run` is called when it is due: a caller that already holds an object per
 * step (a network call) schedules it as it is, with no closure per step.
 */
export interface Step {
  run(): void;
}

export type StepCallback = (() => void) | Step;

export class Scheduler {
  private readonly queue = new TimeQueue();
  private readonly fns: Array<StepCallback | undefined> = [];
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
  at(timeMs: number, fn: StepCallback, label = 'timer', batch?: object): number {
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
   * or `stop()` returns true (checked between steps). One run at a time.
   */
  run(untilMs: number, stop?: () => boolean): Promise<void> {
    if (this.running !== undefined) return Promise.reject(new Error('scheduler: run() while a run is going on'));
    return new Promise<void>((resolve, reject) => {
      this.running = { untilMs, stop, resolve, reject };
      // As many immediates as the last run took steps (one more to find nothing due), within bounds.
      this.turnSize = Math.max(2, Math.min(STEPS_PER_TURN, this.stepsOfLastRun + 1));
      this.runStartedAtStep = this.steps;
      this.queueTurn();
    });
  }

  /** The run going on (its state lives here, not in closures made per run). */
  private running: { readonly untilMs: number; readonly stop: (() => boolean) | undefined; readonly resolve: () => void; readonly reject: (error: unknown) => void } | undefined;
  /** The immediates of the current turn: those still queued when a run ends are cleared, not left to run for nothing. */
  private readonly turn: NodeJS.Immediate[] = [];

  /**
   * Immediates the next turn queues. The simulate loop runs 100 simulated ms at a time, and at low
   * input rates such a run takes a few steps: a run starts with as many as the last one took and
   * doubles up to STEPS_PER_TURN (immediates a run does not use are allocated, queued and cleared for
   * nothing; each turn costs an event-loop iteration).
   */
  private turnSize = 0;
  private runStartedAtStep = 0;
  private stepsOfLastRun = STEPS_PER_TURN;

  private queueTurn(): void {
    const n = this.turnSize;
    this.turnSize = Math.min(STEPS_PER_TURN, n * 2);
    // Two callbacks rather than one with an argument: an argument costs an array per immediate.
    for (let i = 1; i <= n; i++) this.turn[i - 1] = setImmediate(i === n ? this.nextLastOfTurn : this.nextInTurn);
    this.turn.length = n;
  }

  private endRun(error?: { readonly error: unknown }): void {
    const run = this.running;
    this.running = undefined;
    this.stepsOfLastRun = this.steps - this.runStartedAtStep;
    for (const immediate of this.turn) clearImmediate(immediate);
    if (error === undefined) run?.resolve();
    else run?.reject(error.error);
  }

  private readonly nextInTurn = (): void => this.next(false);
  private readonly nextLastOfTurn = (): void => this.next(true);

  /** One step per call; every continuation of the previous step has run (Node drained them). */
  private next(lastOfTurn: boolean): void {
    const run = this.running;
    if (run === undefined) return;
    try {
      const queue = this.queue;
      const untilMs = run.untilMs;
      while (queue.size > 0 && queue.peekTime() <= untilMs) {
        if (run.stop?.()) return this.endRun();
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
        if (typeof fn === 'function') fn();
        else fn.run();
        // The rest of the batch: the steps right after this one, at the same time, of the same batch.
        while (batch !== undefined && queue.size > 0 && queue.peekTime() === time && this.batches[queue.peekId()] === batch) {
          const more = queue.pop();
          const moreFn = this.fns[more];
          this.release(more);
          if (typeof moreFn === 'function') moreFn();
          else moreFn?.run();
        }
        if (lastOfTurn) this.queueTurn();
        return;
      }
      // Nothing else is due before `untilMs`: time passes to it.
      if (queue.peekTime() > untilMs) this.nowValue = Math.max(this.nowValue, untilMs);
      this.endRun();
    } catch (error) {
      this.endRun({ error });
    }
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
