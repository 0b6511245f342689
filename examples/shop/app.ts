/**
 * A shop: orders and payments arrive on two streams; a join ships an order once it is paid for.
 *
 *   orders ─────────────────────────┐
 *                                   ├──▶ fulfilment ──▶ shipments ──▶ loyalty ──▶ rewards
 *   payments ──▶ cashier ──▶ cleared┘    per customer:               per customer: a reward
 *                per customer:           the join of what was        every REWARD_EVERY orders
 *                clears or declines      ordered and what was paid;  shipped
 *                a payment               ships paid orders (effect)
 *
 * `fulfilment` is a join, and a join is just a process with two inputs: the runner merges orders and
 * cleared payments by event time, so a customer's payment and order meet in the order they happened, on
 * every run, whatever the network did to them.
 *
 * Run it:       npx spive run examples/shop
 * Simulate it:  npx spive simulate examples/shop --seed 1 --faults default
 */
import { defineApp, defineGateway, defineInvariant, defineProcess, defineStream, MemoryGateway } from 'spive';

// ---------------------------------------------------------------- streams

export type OrderEvents = { OrderPlaced: { order: string; customer: string; amount: number } };
export type PaymentEvents = { PaymentReceived: { payment: string; customer: string; amount: number; card: 'ok' | 'declined' } };
export type ClearedEvents = {
  PaymentCleared: { payment: string; customer: string; amount: number };
  PaymentDeclined: { payment: string; customer: string; amount: number };
};
export type ShipmentEvents = { Shipped: { shipment: string; order: string; customer: string; amount: number } };
export type RewardEvents = { Rewarded: { customer: string; orders: number } };

/** Both inputs are keyed by customer, so the join's shard is the customer: what they ordered, what they paid. */
export const orders = defineStream<OrderEvents>('orders', { key: (e) => e.data.customer });
export const payments = defineStream<PaymentEvents>('payments', { key: (e) => e.data.customer });
export const cleared = defineStream<ClearedEvents>('cleared');
export const shipments = defineStream<ShipmentEvents>('shipments');
export const rewards = defineStream<RewardEvents>('rewards');

// ---------------------------------------------------------------- gateway

export interface ShipRequest {
  shipment: string;
  order: string;
  customer: string;
}

/** The warehouse: in this example an in-process outbox (a real app would use httpGateway). */
export const warehouseOutbox = new MemoryGateway<ShipRequest>();
export const warehouse = defineGateway<ShipRequest>('warehouse', warehouseOutbox);

// ---------------------------------------------------------------- processes

export interface CustomerAccount {
  /** Money received and not yet spent on a shipped order. */
  credit: number;
  /** Orders placed and not yet paid for, oldest first. */
  waiting: Array<{ order: string; amount: number }>;
  /** Totals, for the invariants. */
  paid: number;
  shippedValue: number;
  shipped: number;
}

/** Ships every waiting order the credit covers, oldest first (in place). */
function shipCovered(state: CustomerAccount, ctx: { key: string; id(): string; emit(type: 'Shipped', data: ShipmentEvents['Shipped']): void; effect(g: typeof warehouse, r: ShipRequest): void }): CustomerAccount {
  while (state.waiting.length > 0 && (state.waiting[0] as { amount: number }).amount <= state.credit) {
    const next = state.waiting.shift() as { order: string; amount: number };
    state.credit -= next.amount;
    state.shippedValue += next.amount;
    state.shipped++;
    // ctx.id() is the same on every run (it is numbered by the merged input), so a retried or replayed
    // shipment keeps its id.
    const shipment = ctx.id();
    ctx.emit('Shipped', { shipment, order: next.order, customer: ctx.key, amount: next.amount });
    ctx.effect(warehouse, { shipment, order: next.order, customer: ctx.key });
  }
  return state;
}

/** Clears a payment unless its card is declined; counts both per customer. */
export const cashier = defineProcess({
  name: 'cashier',
  inputs: { payments },
  output: cleared,
  initial: () => ({ cleared: 0, declined: 0 }),
  on: {
    payments: {
      PaymentReceived(s, e, ctx) {
        const { payment, customer, amount } = e.data;
        if (e.data.card === 'declined') {
          ctx.emit('PaymentDeclined', { payment, customer, amount });
          return { ...s, declined: s.declined + 1 };
        }
        ctx.emit('PaymentCleared', { payment, customer, amount });
        return { ...s, cleared: s.cleared + 1 };
      },
    },
  },
});

export const fulfilment = defineProcess({
  name: 'fulfilment',
  inputs: { orders, cleared },
  output: shipments,
  initial: (): CustomerAccount => ({ credit: 0, waiting: [], paid: 0, shippedValue: 0, shipped: 0 }),
  on: {
    orders: {
      OrderPlaced: (s, e, ctx) => shipCovered({ ...s, waiting: [...s.waiting, { order: e.data.order, amount: e.data.amount }] }, ctx),
    },
    cleared: {
      PaymentCleared: (s, e, ctx) => shipCovered({ ...s, waiting: [...s.waiting], credit: s.credit + e.data.amount, paid: s.paid + e.data.amount }, ctx),
    },
  },
});

/** A reward every REWARD_EVERY orders shipped to a customer. */
export const REWARD_EVERY = 3;

export const loyalty = defineProcess({
  name: 'loyalty',
  inputs: { shipments },
  output: rewards,
  initial: () => ({ shipped: 0, rewarded: 0, lastShipment: '' }),
  on: {
    shipments: {
      Shipped(s, e, ctx) {
        const shipped = s.shipped + 1;
        if (shipped % REWARD_EVERY !== 0) return { ...s, shipped, lastShipment: e.data.shipment };
        ctx.emit('Rewarded', { customer: e.data.customer, orders: shipped });
        return { shipped, rewarded: s.rewarded + 1, lastShipment: e.data.shipment };
      },
    },
  },
});

// ---------------------------------------------------------------- the app

export default defineApp({
  name: 'shop',
  streams: [orders, payments, cleared, shipments, rewards],
  processes: [cashier, fulfilment, loyalty],
  gateways: [warehouse],
  invariants: [
    defineInvariant('no order ships unpaid', 'safety', (view) => {
      for (const key of view.keys(fulfilment)) {
        const s = view.state(fulfilment, key);
        if (s.shippedValue > s.paid) return `customer ${key} got ${s.shippedValue} shipped but paid ${s.paid}`;
      }
      return undefined;
    }),
    defineInvariant('every order the credit covers has shipped', 'liveness', (view) => {
      for (const key of view.keys(fulfilment)) {
        const s = view.state(fulfilment, key);
        const first = s.waiting[0];
        if (first !== undefined && first.amount <= s.credit) return `customer ${key} has credit ${s.credit} but order ${first.order} (${first.amount}) waits`;
      }
      return undefined;
    }),
    defineInvariant('a reward for every REWARD_EVERY orders shipped', 'liveness', (view) => {
      for (const key of view.keys(fulfilment)) {
        const expected = Math.floor(view.state(fulfilment, key).shipped / REWARD_EVERY);
        const got = view.state(loyalty, key).rewarded;
        if (got !== expected) return `customer ${key} has ${got} rewards for ${view.state(fulfilment, key).shipped} orders shipped`;
      }
      return undefined;
    }),
  ],
  workload: {
    ratePerSecond: 50,
    keys: 30,
    skew: 0.99,
    events: 600,
    keyName: (n) => `cust-${n}`,
    // Orders and payments for the same customers, in any order: a payment may come before the order it pays for.
    make: ({ i, key, random }) =>
      random.chance(0.5)
        ? { stream: orders, type: 'OrderPlaced', data: { order: `o${i}`, customer: key, amount: random.int(5, 50) } }
        : { stream: payments, type: 'PaymentReceived', data: { payment: `p${i}`, customer: key, amount: random.int(5, 60), card: random.chance(0.1) ? 'declined' : 'ok' } },
  },
});
