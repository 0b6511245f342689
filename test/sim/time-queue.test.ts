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

  it('cancels a pending step, and a cancelled or fired handle never hits a later step in the same slot', async () => {
    const s = new Scheduler();
    const fired: string[] = [];
    const gone = s.at(1, () => fired.push('cancelled'));
    s.cancel(gone);
    await s.run(5);
    const reused = s.at(10, () => fired.push('reused')); // takes the freed slot
    s.cancel(gone);
    await s.run(20);
    s.at(30, () => fired.push('again'));
    s.cancel(reused);
    await s.run(40);
    expect(fired).toEqual(['reused', 'again']);
    expect(s.steps).toBe(2);
  });

  it('runs steps of one batch that follow each other at the same time as one step, continuations after', async () => {
    const s = new Scheduler();
    const link = {};
    const seen: string[] = [];
    const step = (name: string) => () => {
      seen.push(name);
      void Promise.resolve().then(() => seen.push(`${name}-continuation`));
    };
    s.at(10, step('a'), 'net', link);
    s.at(10, step('b'), 'net', link);
    s.at(10, step('other'), 'net', {}); // another batch: its own step, and it ends the run of `link`'s
    s.at(10, step('c'), 'net', link);
    s.at(11, step('d'), 'net', link); // another time
    const cancelled = s.at(11, step('cancelled'), 'net', link);
    s.cancel(cancelled);
    await s.run(100);
    expect(seen).toEqual(['a', 'b', 'a-continuation', 'b-continuation', 'other', 'other-continuation', 'c', 'c-continuation', 'd', 'd-continuation']);
    expect(s.steps).toBe(4);
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
