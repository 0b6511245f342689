/** One writer per output shard range: a second runner waits or is fenced, never writes beside the first. */
import { describe, expect, it } from 'vitest';
import { ALL_SHARDS, ManualClock, MemoryLog, MemoryStore, Platform, isFenced, realTimers } from 'spive';
import { counterApp } from './fixtures/apps.ts';

const quiet = { idle: false as const, ingressIdle: false as const, version: 'v1' };

describe('leases and fencing', () => {
  it('a second runner on the same shards waits for the lease and takes over when the first stops', async () => {
    const { app } = counterApp();
    const store = new MemoryStore();
    const first = await Platform.start(app, { store, owner: 'first', ...quiet });
    await first.append('clicks', { type: 'Clicked', data: { n: 1 }, time: 1 });
    await first.settle();
    const log = new MemoryLog();
    const starting = Platform.start(app, { store, log, owner: 'second', leaseTtlMs: 200, ...quiet });
    while (log.ofKind('lease.waiting').length === 0) await realTimers.sleep(5);
    expect(log.ofKind('lease.waiting')[0]?.message).toMatch(/leased to first/);
    expect(log.ofKind('lease.acquired')).toHaveLength(0);
    await first.stop(); // releases the lease
    const second = await starting;
    expect(second.runner('counter')?.status().owner).toBe('second');
    await second.append('clicks', { type: 'Clicked', data: { n: 6 }, time: 2 });
    await second.settle();
    expect(second.view().state(counterApp().counter, 'user-1')).toEqual({ count: 2, total: 7 });
    await second.stop();
  });

  it('a runner whose lease was taken over is fenced: it stops without writing again', async () => {
    const { app } = counterApp();
    const clock = new ManualClock(0);
    const store = new MemoryStore({ clock });
    const log = new MemoryLog();
    const stale = await Platform.start(app, { store, clock, owner: 'paused-runner', leaseTtlMs: 1000, log, ...quiet });
    await stale.append('clicks', { type: 'Clicked', data: { n: 1 }, time: 1 });
    await stale.settle();
    // The runner "pauses" past its lease; another owner takes the range.
    clock.advance(5000);
    const takeover = await store.acquireLease({ stream: 'counts', range: ALL_SHARDS, owner: 'new-owner', ttlMs: 60_000 });
    await stale.append('clicks', { type: 'Clicked', data: { n: 11 }, time: 2 });
    await stale.settle();
    const status = stale.runner('counter')?.status();
    expect(status?.mode).toBe('fenced');
    expect(isFenced(stale.failure()?.error)).toBe(true);
    expect(log.ofKind('runner.fenced')).toHaveLength(1);
    const written: string[] = [];
    for await (const batch of store.readStream('counts')) written.push(...batch.map((e) => `${e.key}#${e.seq}`));
    expect(written).toEqual(['user-1#1']); // the second click was never written by the fenced runner
    await stale.stop();
    expect((await store.acquireLease({ stream: 'counts', range: ALL_SHARDS, owner: 'new-owner', ttlMs: 1 })).token).toBeGreaterThan(takeover.token);
  });

  it('runners on disjoint shard ranges run side by side, each writing only its own shards', async () => {
    const { app, counter } = counterApp();
    const store = new MemoryStore();
    const low = await Platform.start(app, { store, owner: 'low', range: { from: 0, to: 2048 }, ...quiet });
    const high = await Platform.start(app, { store, owner: 'high', range: { from: 2048, to: 4096 }, ...quiet });
    for (let n = 0; n < 50; n++) await low.append('clicks', { type: 'Clicked', data: { n }, time: n });
    await low.settle();
    await high.settle();
    const lowKeys = low.view().keys(counter);
    const highKeys = high.view().keys(counter);
    expect([...lowKeys, ...highKeys].sort()).toEqual(['user-0', 'user-1', 'user-2', 'user-3', 'user-4']);
    expect(lowKeys.filter((k) => highKeys.includes(k))).toEqual([]);
    let total = 0;
    for (const k of lowKeys) total += low.view().state(counter, k).count;
    for (const k of highKeys) total += high.view().state(counter, k).count;
    expect(total).toBe(50);
    await low.stop();
    await high.stop();
  });
});
