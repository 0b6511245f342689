/** Effects: live only, suppressed in catch-up, exactly once across the catch-up/live boundary. */
import { describe, expect, it } from 'vitest';
import { MemoryGateway, MemoryLog, MemoryStore, Platform, type GatewayImpl } from 'spive';
import { collect } from '../helpers/async.ts';
import { FaultyStore } from '../helpers/faulty-store.ts';
import { counterApp } from './fixtures/apps.ts';

const quiet = { idle: false as const, ingressIdle: false as const, version: 'v1' };

function gateways(g: MemoryGateway<unknown>): Record<string, GatewayImpl<never>> {
  return { notify: g as GatewayImpl<never> };
}

describe('effects across catch-up and live', () => {
  it('suppresses effects while catching up and performs each new one exactly once at the boundary', async () => {
    const { app } = counterApp({ snapshots: { everyEvents: 0 }, effectEvery: 2 });
    const store = new MemoryStore();
    const outside = new MemoryGateway<unknown>();
    let platform = await Platform.start(app, { store, gateways: gateways(outside), ...quiet });
    for (let n = 0; n < 20; n++) await platform.append('clicks', { type: 'Clicked', data: { n }, time: n });
    await platform.settle();
    await platform.stop();
    expect(outside.performed.size).toBe(10); // every 2nd click of each of 5 users, 4 clicks each

    // Restart without snapshots: all 20 inputs are re-read; their effects happened already.
    const log = new MemoryLog();
    platform = await Platform.start(app, { store, log, gateways: gateways(outside), ...quiet });
    for (let n = 20; n < 30; n++) await platform.append('clicks', { type: 'Clicked', data: { n }, time: n });
    await platform.settle();
    const g = platform.status().gateways[0];
    expect(g?.suppressed).toBe(10);
    expect(g?.performed).toBe(5); // clicks 21..30 give each user a 6th click: one effect each
    expect(outside.performed.size).toBe(15);
    expect(outside.duplicates).toBe(0);
    expect(log.ofKind('effect.suppressed')[0]?.message).toMatch(/^would have done notify \{.*\} \(catch-up\)$/);
    await platform.stop();
  });

  it('repeats an effect whose output was never written (crash in between), with the same idempotency key', async () => {
    const { app } = counterApp({ snapshots: { everyEvents: 0 }, effectEvery: 1 });
    const faulty = new FaultyStore(new MemoryStore());
    const outside = new MemoryGateway<unknown>();
    faulty.failAppendsAfter('counts', 0); // the effect runs, then the output append "crashes"
    let platform = await Platform.start(app, { store: faulty.store, gateways: gateways(outside), ...quiet });
    await platform.append('clicks', { type: 'Clicked', data: { n: 0 }, time: 0 });
    await platform.settle();
    expect(platform.failure()).toBeDefined();
    await platform.stop();
    faulty.heal();
    platform = await Platform.start(app, { store: faulty.store, gateways: gateways(outside), ...quiet });
    await platform.settle();
    await platform.stop();
    // At-least-once: the receiver saw the same idempotency key twice and can drop the duplicate.
    expect(outside.calls.map((c) => c.call.idempotencyKey)).toEqual(['counter/user-0/clicks@1/0', 'counter/user-0/clicks@1/0']);
    expect(outside.duplicates).toBe(1);
    expect(outside.performed.size).toBe(1);
  });

  it('stops the process loudly when a gateway classifies a failure as a bug, naming the effect', async () => {
    const { app } = counterApp({ effectEvery: 1 });
    const outside = new MemoryGateway<unknown>();
    outside.failNext(1, 'bug', 'recipient does not exist');
    const platform = await Platform.start(app, { store: new MemoryStore(), gateways: gateways(outside), ...quiet });
    await platform.append('clicks', { type: 'Clicked', data: { n: 3 }, time: 0 });
    await platform.settle();
    const failure = platform.failure();
    expect(failure?.process).toBe('counter');
    expect(String((failure?.error as Error).message)).toMatch(/notify rejected effect counter\/user-3\/clicks@1\/0 as a bug: recipient does not exist/);
    expect(platform.runner('counter')?.status().mode).toBe('failed');
    await platform.stop();
  });

  it('stops the process loudly when a handler throws, naming the event and shard', async () => {
    const { app } = counterApp({ failOn: 7 });
    const store = new MemoryStore();
    const platform = await Platform.start(app, { store, ...quiet });
    for (let n = 5; n < 10; n++) await platform.append('clicks', { type: 'Clicked', data: { n }, time: n });
    await platform.settle();
    // Where click 7 landed: outputs share the global positions, so it depends on how far the runner got.
    const [bad] = (await collect(store.readShard('clicks', 'user-2'))).filter((e) => (e.data as { n: number }).n === 7);
    const message = String((platform.failure()?.error as Error).message);
    expect(message).toContain(`process counter stopped: its handler for clicks/user-2#1 (Clicked, position ${bad?.position}) in shard user-2 threw: cannot count click 7`);
    expect(platform.runner('counter')?.status().eventsIn).toBe(3); // it stopped at the bad event
    await platform.stop();
  });
});
