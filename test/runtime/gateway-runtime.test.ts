/** Gateways retry faults forever with backoff; a long series becomes an overdue warning that clears. */
import { describe, expect, it } from 'vitest';
import { GatewayRuntime, ManualClock, ManualTimers, MemoryGateway, MemoryLog, defineGateway, seededRandom } from 'spive';

function setup(overdueAfterMs: number) {
  const clock = new ManualClock(0);
  const timers = new ManualTimers(clock);
  const outside = new MemoryGateway<{ to: string }>();
  const log = new MemoryLog();
  const runtime = new GatewayRuntime(defineGateway('mail', outside), { clock, timers, random: seededRandom(1), log, overdueAfterMs, backoff: { baseMs: 100, capMs: 1000 } });
  return { clock, timers, outside, log, runtime };
}

const call = { idempotencyKey: 'p/k/s@1/0', process: 'p', key: 'k' };

describe('gateway runtime', () => {
  it('retries a failing call with growing delays until it succeeds', async () => {
    const { timers, outside, runtime } = setup(60_000);
    outside.failNext(5);
    const done = runtime.perform({ to: 'a' }, call, new AbortController().signal);
    await timers.advance(10_000);
    await done;
    expect(outside.calls).toHaveLength(6);
    expect(outside.calls.map((c) => c.call.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(runtime.status()).toMatchObject({ performed: 1, retries: 5, overdueSinceMs: null });
  });

  it('raises an overdue warning when a retry series outlasts the threshold, and clears it on success', async () => {
    const { timers, outside, runtime, log } = setup(2000);
    outside.failNext(12, 'fault', 'connection refused');
    const done = runtime.perform({ to: 'a' }, call, new AbortController().signal);
    await timers.advance(3000);
    expect(runtime.status().overdueSinceMs).not.toBeNull();
    expect(log.ofKind('gateway.overdue')[0]?.message).toMatch(/gateway mail: effect p\/k\/s@1\/0 still failing after \d+ attempts over \d+ ms: connection refused/);
    await timers.advance(60_000);
    await done;
    expect(runtime.status().overdueSinceMs).toBeNull();
    expect(log.ofKind('gateway.recovered')).toHaveLength(1);
  });

  it('keeps backoff delays within [cap/2, cap] once capped, drawing jitter from the injected random', async () => {
    const clock = new ManualClock(0);
    const timers = new ManualTimers(clock);
    const times: number[] = [];
    const flaky = defineGateway<{ to: string }>('mail', {
      async perform() {
        times.push(clock.nowMs());
        if (times.length <= 20) throw new Error('timeout');
      },
    });
    const runtime = new GatewayRuntime(flaky, { clock, timers, random: seededRandom(1), log: new MemoryLog(), overdueAfterMs: 1e9, backoff: { baseMs: 100, capMs: 1000 } });
    const done = runtime.perform({ to: 'a' }, call, new AbortController().signal);
    await timers.advance(100_000);
    await done;
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(50);
    expect(gaps[0]).toBeLessThanOrEqual(100);
    for (const gap of gaps.slice(5)) {
      expect(gap).toBeGreaterThanOrEqual(500);
      expect(gap).toBeLessThanOrEqual(1000);
    }
  });

  it('stops retrying when aborted', async () => {
    const { timers, outside, runtime } = setup(60_000);
    outside.failNext(1000);
    const abort = new AbortController();
    const done = runtime.perform({ to: 'a' }, call, abort.signal);
    await timers.advance(500);
    abort.abort(new Error('shutting down'));
    await expect(done).rejects.toThrow('shutting down');
  });
});
