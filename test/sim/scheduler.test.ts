/**
 * The scheduler's loop: steps run in (time, seq) order, one at a time with every continuation of a
 * step settled before the next, across the turns in which it queues its immediates (a run starts
 * with few and grows them), and a run with nothing due only moves time.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../sim/scheduler.ts';

describe('Scheduler.run', () => {
  it('runs many steps in order across turns, each after the continuations of the one before', async () => {
    const s = new Scheduler();
    const seen: string[] = [];
    for (let i = 0; i < 200; i++) {
      s.at(i % 7, () => {
        seen.push(`step ${i}`);
        // A continuation two microtask hops away still lands before the next step.
        void Promise.resolve().then(() => Promise.resolve()).then(() => seen.push(`after ${i}`));
      });
    }
    await s.run(Number.POSITIVE_INFINITY);
    const order = [...Array(200).keys()].sort((a, b) => a % 7 - (b % 7) || a - b);
    expect(seen).toEqual(order.flatMap((i) => [`step ${i}`, `after ${i}`]));
    expect(s.steps).toBe(200);
  });

  it('ends a run at its limit, keeps later steps, and moves time to the limit when nothing is due', async () => {
    const s = new Scheduler();
    const ran: number[] = [];
    for (const t of [5, 50, 500]) s.at(t, () => ran.push(t));
    await s.run(100);
    expect(ran).toEqual([5, 50]);
    expect(s.now).toBe(100);
    await s.run(200);
    expect(ran).toEqual([5, 50]);
    expect(s.now).toBe(200);
    await s.run(1000);
    expect(ran).toEqual([5, 50, 500]);
    expect(s.pending).toBe(0);
  });

  it('runs steps scheduled by steps, in a run that started with none of them queued', async () => {
    const s = new Scheduler();
    let n = 0;
    const step = () => {
      n++;
      if (n < 100) s.after(1, step);
    };
    s.at(0, step);
    await s.run(Number.POSITIVE_INFINITY);
    expect(n).toBe(100);
    expect(s.now).toBe(99);
  });
});
