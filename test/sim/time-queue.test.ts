import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimeQueue } from '../../sim/time-queue.ts';
import { Scheduler } from '../../sim/scheduler.ts';

describe('TimeQueue', () => {
  it('pops in (time, seq) order, whatever the insertion order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 1e6 })), { maxLength: 300 }), (entries) => {
        const q = new TimeQueue();
        entries.forEach(([t], i) => q.push(t, i, i));
        const popped: number[] = [];
        while (q.size > 0) popped.push(q.pop());
        const expected = entries.map(([t], i) => ({ t, i })).sort((a, b) => a.t - b.t || a.i - b.i).map((e) => e.i);
        expect(popped).toEqual(expected);
        expect(q.pop()).toBe(-1);
      }),
    );
  });
});

describe('Scheduler', () => {
  it('runs steps in time order, lets their promise continuations finish, and advances time', async () => {
    const s = new Scheduler();
    const seen: string[] = [];
    s.at(20, () => seen.push('b'));
    s.at(10, () => {
      seen.push('a');
      void Promise.resolve().then(() => seen.push('a-continuation'));
    });
    s.at(20, () => seen.push('c'));
    await s.run(15);
    expect(seen).toEqual(['a', 'a-continuation']);
    expect(s.now).toBe(15);
    await s.run(100);
    expect(seen).toEqual(['a', 'a-continuation', 'b', 'c']);
    expect(s.now).toBe(100);
    expect(s.steps).toBe(3);
  });

  it('cancelling a timer that already fired never cancels a later one (ids are not reused)', async () => {
    const s = new Scheduler();
    const fired: string[] = [];
    const early = s.at(1, () => fired.push('early'));
    await s.run(5);
    s.at(10, () => fired.push('late'));
    s.cancel(early);
    await s.run(20);
    expect(fired).toEqual(['early', 'late']);
  });

  it('drives sleep/after timers at a node clock rate', async () => {
    const s = new Scheduler();
    const fast = s.timers(2); // a node whose clock runs twice as fast
    const at: number[] = [];
    fast.after(100, () => at.push(s.now));
    await s.run(1000);
    expect(at).toEqual([50]);
  });
});
