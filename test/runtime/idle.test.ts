/** Idle events: a quiet input does not stall a join, and watermarks advance. */
import { describe, expect, it } from 'vitest';
import { MemoryStore, Platform, realTimers, type StoredEvent } from 'spive';
import { joinApp, matcher } from './fixtures/apps.ts';

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await realTimers.sleep(5);
  }
}

describe('idle events and watermarks', () => {
  it('a join waits for its quiet input until idle events on it advance the watermark', async () => {
    const store = new MemoryStore();
    const platform = await Platform.start(joinApp, { store, version: 'v1', idle: false, ingressIdle: false });
    await platform.append('orders', { type: 'OrderPlaced', data: { order: 'o1', amount: 10 }, time: 100 });
    await realTimers.sleep(30);
    // The other input (payments) has never had an event: the merge cannot know that nothing earlier will come.
    expect(platform.runner('matcher')?.status().eventsIn).toBe(0);
    expect(platform.runner('matcher')?.status().watermark).toBeNull();
    await platform.stop();

    const withIdle = await Platform.start(joinApp, { store, version: 'v1', idle: false, ingressIdle: { baseMs: 10, capMs: 40 } });
    await until(() => (withIdle.runner('matcher')?.status().watermark ?? 0) >= 100, 'the watermark to pass the order');
    const status = withIdle.runner('matcher')?.status();
    expect(status?.watermark).toBeGreaterThanOrEqual(100);
    expect(withIdle.view().state(matcher, 'o1')).toEqual({ ordered: 10, paid: 0 });
    const idle = withIdle.status().ingress.find((i) => i.stream === 'payments');
    expect(idle?.idleEvents).toBeGreaterThan(0);
    await withIdle.stop();
  });

  it('spaces idle events exponentially while a stream stays quiet, up to the cap', async () => {
    const store = new MemoryStore();
    const platform = await Platform.start(joinApp, { store, version: 'v1', idle: false, ingressIdle: { baseMs: 10, capMs: 80 } });
    await until(() => (platform.status().ingress.find((i) => i.stream === 'orders')?.idleEvents ?? 0) >= 6, 'six idle events', 10_000);
    await platform.stop();
    const times: number[] = [];
    for await (const batch of store.readStream('orders')) times.push(...batch.filter((e: StoredEvent) => e.type === '$idle').map((e) => e.time));
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // 10, 20, 40, 80, 80: each gap at least the doubled spacing (timers never fire early), never beyond the cap by much.
    expect(gaps[1]).toBeGreaterThanOrEqual(18);
    expect(gaps[2]).toBeGreaterThanOrEqual(38);
    expect(gaps[3]).toBeGreaterThanOrEqual(78);
    expect(Math.min(...gaps.slice(3))).toBeGreaterThanOrEqual(78);
  });

  it('runners emit idle events on their own output while their inputs are quiet', async () => {
    const store = new MemoryStore();
    const platform = await Platform.start(joinApp, { store, version: 'v1', idle: { baseMs: 10, capMs: 20 }, ingressIdle: { baseMs: 5, capMs: 10 } });
    await platform.append('orders', { type: 'OrderPlaced', data: { order: 'o2', amount: 5 }, time: 50 });
    await until(() => (platform.runner('matcher')?.status().idleEventsOut ?? 0) >= 2, 'runner idle events');
    const idle: StoredEvent[] = [];
    for await (const batch of store.readStream('matched')) idle.push(...batch.filter((e) => e.type === '$idle'));
    expect(idle.length).toBeGreaterThanOrEqual(2);
    // An idle event carries the process watermark as its time, and never goes back.
    expect(idle.every((e, i) => i === 0 || e.time >= (idle[i - 1] as StoredEvent).time)).toBe(true);
    expect(idle[0]?.time).toBeGreaterThanOrEqual(50);
    await platform.stop();
  });
});
