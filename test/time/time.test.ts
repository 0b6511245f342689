import { describe, expect, it } from 'vitest';
import { ManualClock, realClock, realTimers } from 'spive';

describe('clocks and timers', () => {
  it('moves a manual clock only when told', () => {
    const clock = new ManualClock(1000);
    expect(clock.nowMs()).toBe(1000);
    clock.advance(250);
    expect([clock.nowMs(), clock.monotonicMs()]).toEqual([1250, 1250]);
    clock.set(5);
    expect(clock.nowMs()).toBe(5);
  });

  it('reads real time close to the system clock, monotonic time never backwards', () => {
    expect(Math.abs(realClock.nowMs() - Date.now())).toBeLessThan(1000);
    const a = realClock.monotonicMs();
    expect(realClock.monotonicMs()).toBeGreaterThanOrEqual(a);
  });

  it('fires, cancels and aborts real timers', async () => {
    let fired = 0;
    realTimers.after(1, () => fired++);
    realTimers.after(1, () => fired++).cancel();
    await realTimers.sleep(20);
    expect(fired).toBe(1);
    const abort = new AbortController();
    const sleeping = realTimers.sleep(10_000, abort.signal);
    abort.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
  });
});
