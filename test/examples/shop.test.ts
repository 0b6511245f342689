/**
 * The shop example: a join (orders with cleared payments) feeding a downstream process. Checked
 * against a plain reference computation on a live platform (idle events let the join drain), and in
 * the simulator, where a join must quiesce under faults and end in the fault-free run's state. The
 * full campaign (seeds 1..100, 200 fuzz runs) is in test/soak.
 */
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryGateway, MemoryStore, Platform, type EventStore, type JsonValue } from 'spive';
import { fuzz, simulate } from 'spive/sim';
import { simulateSeeds } from '../helpers/simulate-seeds.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import app, { fulfilment, loyalty, REWARD_EVERY, type ShipRequest } from '../../examples/shop/app.ts';

const SPEC = 'examples/shop';

type Input = { stream: 'orders'; customer: string; amount: number } | { stream: 'payments'; customer: string; amount: number; declined: boolean };

/** What the shop must do, computed plainly: per customer in event-time order (orders first on a tie), ship what the credit covers, oldest first. */
function expected(inputs: readonly Input[]): { shipped: Map<string, string[]>; rewards: Map<string, number> } {
  const shipped = new Map<string, string[]>();
  const rewards = new Map<string, number>();
  const byCustomer = new Map<string, Array<{ input: Input; i: number }>>();
  inputs.forEach((input, i) => byCustomer.set(input.customer, [...(byCustomer.get(input.customer) ?? []), { input, i }]));
  for (const [customer, list] of byCustomer) {
    let credit = 0;
    const waiting: Array<{ order: string; amount: number }> = [];
    const out: string[] = [];
    // Event time is the input's index: orders and payments of one customer interleave by it.
    for (const { input, i } of list) {
      if (input.stream === 'orders') waiting.push({ order: `o${i}`, amount: input.amount });
      else if (!input.declined) credit += input.amount;
      while (waiting.length > 0 && (waiting[0] as { amount: number }).amount <= credit) {
        const next = waiting.shift() as { order: string; amount: number };
        credit -= next.amount;
        out.push(next.order);
      }
    }
    shipped.set(customer, out);
    rewards.set(customer, Math.floor(out.length / REWARD_EVERY));
  }
  return { shipped, rewards };
}

async function shipmentsOf(store: EventStore): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for await (const batch of store.readStream('shipments')) {
    for (const e of batch) if (e.type === 'Shipped') out.set(e.key, [...(out.get(e.key) ?? []), (e.data as { order: string }).order]);
  }
  return out;
}

const inputArb = fc.array(
  fc.oneof(
    fc.record({ stream: fc.constant('orders' as const), customer: fc.constantFrom('ann', 'bob', 'cy'), amount: fc.integer({ min: 1, max: 30 }) }),
    fc.record({ stream: fc.constant('payments' as const), customer: fc.constantFrom('ann', 'bob', 'cy'), amount: fc.integer({ min: 1, max: 40 }), declined: fc.boolean() }),
  ),
  { minLength: 1, maxLength: 40 },
);

describe('examples/shop on a live platform', () => {
  it('ships exactly what the payments cover, in event-time order, and rewards every third shipment — for any inputs', async () => {
    await fc.assert(
      fc.asyncProperty(inputArb, async (inputs) => {
        const store = new MemoryStore();
        const warehouse = new MemoryGateway<ShipRequest>();
        // Short idle spacing: the join takes its last events once idle events close its quiet input.
        const platform = await Platform.start(app, { store, version: 'v1', idle: { baseMs: 5, capMs: 20 }, ingressIdle: { baseMs: 5, capMs: 20 }, gateways: { warehouse } });
        try {
          for (const [i, input] of inputs.entries()) {
            const data: JsonValue =
              input.stream === 'orders' ? { order: `o${i}`, customer: input.customer, amount: input.amount } : { payment: `p${i}`, customer: input.customer, amount: input.amount, card: input.declined ? 'declined' : 'ok' };
            await platform.append(input.stream, { type: input.stream === 'orders' ? 'OrderPlaced' : 'PaymentReceived', data, time: i + 1 });
          }
          await platform.settle({ timeoutMs: 10_000, pollMs: 5 });
          const want = expected(inputs);
          const got = await shipmentsOf(store);
          for (const [customer, orders] of want.shipped) {
            expect(got.get(customer) ?? []).toEqual(orders);
            expect(platform.view().state(loyalty, customer).rewarded).toBe(want.rewards.get(customer));
            const account = platform.view().state(fulfilment, customer);
            expect(account.shippedValue).toBeLessThanOrEqual(account.paid);
          }
          // One warehouse request per shipment, with the shipment's id.
          expect(warehouse.performed.size).toBe([...want.shipped.values()].reduce((n, l) => n + l.length, 0));
        } finally {
          await platform.stop();
        }
      }),
      { numRuns: 15 },
    );
  }, 120_000);
});

describe('examples/shop under `spive run --until-idle`', () => {
  it('a finite run takes a join\'s last events (idle events close its quiet inputs) and stops', async () => {
    const temp = tempDir('spive-shop-');
    const dir = temp.path;
    const spive = (...args: string[]) => execFileSync(process.execPath, ['bin/spive.js', ...args], { encoding: 'utf8' });
    spive('append', 'orders', JSON.stringify({ type: 'OrderPlaced', key: 'ann', data: { order: 'o1', customer: 'ann', amount: 10 }, time: 1000 }), '--store', dir);
    spive('append', 'payments', JSON.stringify({ type: 'PaymentReceived', key: 'ann', data: { payment: 'p1', customer: 'ann', amount: 15, card: 'ok' }, time: 900 }), '--store', dir);
    // The last order waits in the join until the payments side is closed by an idle event.
    spive('append', 'orders', JSON.stringify({ type: 'OrderPlaced', key: 'ann', data: { order: 'o2', customer: 'ann', amount: 5 }, time: 2000 }), '--store', dir);
    const status = JSON.parse(spive('run', SPEC, '--store', dir, '--until-idle', '--json').trim().split('\n').pop() as string) as {
      processes: Array<{ process: string; mode: string; eventsOut: number }>;
      gateways: Array<{ name: string; performed: number }>;
    };
    expect(status.processes.find((p) => p.process === 'fulfilment')).toMatchObject({ mode: 'stopped', eventsOut: 2 });
    expect(status.gateways.find((g) => g.name === 'warehouse')?.performed).toBe(2);
    temp.cleanup();
  }, 60_000);
});

describe('examples/shop in the simulator', () => {
  const SEEDS = 10;

  it(`a join quiesces under default faults and ends in the fault-free run's state, seeds 1..${SEEDS}`, async () => {
    let shipped = 0;
    const hashes = await simulateSeeds(app, SEEDS, { faults: 'default', appSpec: SPEC, keepTrace: true }, (r) => {
      shipped += r.trace.kinds.filter((k) => k === 'effect.performed').length;
    });
    expect(hashes.size).toBe(SEEDS);
    expect(shipped).toBeGreaterThan(0);
  }, 120_000);

  it('quiesces under swarm faults too (each seed draws its own fault mix)', async () => {
    await simulateSeeds(app, 5, { faults: 'swarm', appSpec: SPEC });
  }, 120_000);

  it('gives the same trace hash for the same seed, in this process and under `spive simulate --json` (exit 0)', async () => {
    const a = await simulate(app, { seed: 3, faults: 'default', appSpec: SPEC });
    const b = await simulate(app, { seed: 3, faults: 'default', appSpec: SPEC });
    expect(b.traceHash).toBe(a.traceHash);
    const cli = JSON.parse(execFileSync(process.execPath, ['bin/spive.js', 'simulate', SPEC, '--seed', '3', '--faults', 'default', '--json'], { encoding: 'utf8' }));
    expect(cli.traceHash).toBe(a.traceHash);
    expect(cli.violations).toEqual([]);
  }, 60_000);

  it('catches a join that ships before the payment is in (a safety invariant)', async () => {
    const original = fulfilment.handlers[0]?.['OrderPlaced'];
    if (original === undefined) throw new Error('fulfilment handles OrderPlaced');
    // The bug: an order ships on the spot, paid or not.
    const eager = {
      ...fulfilment,
      handlers: [
        {
          OrderPlaced: (s: Parameters<typeof original>[0], e: Parameters<typeof original>[1], ctx: Parameters<typeof original>[2]) =>
            original({ ...s, credit: s.credit + (e.data as { amount: number }).amount }, e, ctx),
        },
        ...fulfilment.handlers.slice(1),
      ],
    };
    const r = await simulate({ ...app, processes: app.processes.map((p) => (p.name === 'fulfilment' ? eager : p)) }, { seed: 1, faults: 'default' });
    expect(r.violations[0]?.invariant).toBe('no order ships unpaid');
    expect(r.violations[0]?.message).toMatch(/^customer cust-\d+ got \d+ shipped but paid \d+$/);
  }, 60_000);

  it('passes 20 fuzz runs', async () => {
    const r = await fuzz(app, { seed: 1, runs: 20, timeBudgetMs: Number.POSITIVE_INFINITY, appSpec: SPEC });
    expect(r.failed, r.repro ?? '').toBe(false);
    expect(r.runs).toBe(20);
  }, 120_000);
});
