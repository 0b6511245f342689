/**
 * A bank: accounts, deposits and transfers between them.
 *
 *   transfers ──▶ ledger ──▶ ledger (stream) ──▶ balances ──▶ balances (stream)
 *   (input)       per source account:              per account, the ledger re-keyed so that a
 *                 overdraft check, dedupe,         debit reaches both the payer and the payee
 *                 debit / credit / reject
 *
 * Run it:       npx spive run examples/bank
 * Feed it:      npx spive append transfers '{"type":"AccountOpened","data":{"account":"alice","overdraftLimit":100}}'
 */
import { defineApp, defineGateway, defineInvariant, defineProcess, defineStream, keyedBy, MemoryGateway, httpGateway } from 'spive';
import { emptyRecord, slotFor, windowFromHours, type HourWindow } from './hour-window.ts';

// ---------------------------------------------------------------- streams

export type TransferEvents = {
  AccountOpened: { account: string; overdraftLimit: number };
  Deposited: { id: string; account: string; amount: number };
  TransferRequested: { id: string; from: string; to: string; amount: number };
};

/** Requests from outside, keyed by the account whose money moves (the payer). */
export const transfers = defineStream<TransferEvents>('transfers', {
  key: (e) => (e.type === 'TransferRequested' ? e.data.from : e.data.account),
});

export type LedgerEvents = {
  Opened: { account: string; overdraftLimit: number };
  Credited: { account: string; amount: number; id: string };
  Debited: { account: string; to: string; amount: number; id: string };
  Rejected: { account: string; amount: number; id: string; reason: string };
};

export const ledgerStream = defineStream<LedgerEvents>('ledger');

export type BalanceEvents = {
  BalanceChanged: { account: string; balance: number };
};

export const balancesStream = defineStream<BalanceEvents>('balances');

// ---------------------------------------------------------------- gateway

export interface Notification {
  account: string;
  message: string;
}

/** Where notifications go: a webhook when BANK_NOTIFY_URL is set, otherwise an in-process outbox. */
export const outbox = new MemoryGateway<Notification>();
export const notifications = defineGateway<Notification>(
  'notifications',
  process.env.BANK_NOTIFY_URL ? httpGateway({ url: process.env.BANK_NOTIFY_URL }) : outbox,
);

// ---------------------------------------------------------------- processes

/**
 * How long the bank remembers ids, in event time: the hour of the latest event and the hour before.
 * A client retries soon (it resends a request whose reply it lost), so a window is enough, and it
 * keeps every account's state bounded however long the account lives — remembering every id ever
 * seen would grow the state, its snapshots and every handler call on it without end. A request
 * resent after the window is a new request.
 */
export const DEDUPE_HOUR_MS = 3_600_000;

export interface LedgerState {
  opened: boolean;
  overdraftLimit: number;
  /** What the payer may spend: deposits minus debits (incoming transfers are not counted: conservative). */
  available: number;
  /**
   * Request ids applied in the window (see DEDUPE_HOUR_MS), by the hour they came in: a retried
   * request is not applied twice. None yet: the window starts at the first id.
   */
  ids?: HourWindow<Record<string, true>>;
  /** How versions before Dec 2026 kept the window (every id in `seen`, and by hour); moved into `ids` when next used. */
  seen?: Record<string, true>;
  seenHours?: Record<string, string[]>;
}

/** Whether request `id` was applied within the window. */
export function seenBefore(state: LedgerState, id: string, time: number): boolean {
  const ids = idWindow(state, Math.floor(time / DEDUPE_HOUR_MS));
  return ids.latest[id] === true || ids.before[id] === true;
}

/**
 * Remembers a request id (in place); the ids of hours before the window are forgotten. An id older
 * than the window is not remembered: a retry comes soon, so a request that old is not a retry.
 */
export function remember(state: LedgerState, id: string, time: number): void {
  const hour = Math.floor(time / DEDUPE_HOUR_MS);
  const slot = slotFor(idWindow(state, hour), hour, emptyRecord<true>);
  if (slot !== undefined) slot[id] = true;
}

/** The window of ids; a state of an earlier version is moved over on first use (one without hours starts the window now). */
function idWindow(state: LedgerState, hour: number): HourWindow<Record<string, true>> {
  if (state.ids !== undefined) return state.ids;
  const ids: HourWindow<Record<string, true>> = { hour, latest: emptyRecord(), before: emptyRecord() };
  const hours = state.seenHours === undefined ? undefined : windowFromHours(state.seenHours);
  if (hours !== undefined) {
    ids.hour = hours.hour;
    for (const id of hours.latest ?? []) ids.latest[id] = true;
    for (const id of hours.before ?? []) ids.before[id] = true;
  } else if (state.seen !== undefined) for (const id of Object.keys(state.seen)) ids.latest[id] = true;
  delete state.seen;
  delete state.seenHours;
  return (state.ids = ids);
}

export const ledger = defineProcess({
  name: 'ledger',
  inputs: { transfers },
  output: ledgerStream,
  initial: (): LedgerState => ({ opened: false, overdraftLimit: 0, available: 0 }),
  on: {
    transfers: {
      AccountOpened(state, e, ctx) {
        if (state.opened) return state;
        ctx.emit('Opened', { account: e.data.account, overdraftLimit: e.data.overdraftLimit });
        return { ...state, opened: true, overdraftLimit: e.data.overdraftLimit };
      },
      // Handlers may update the shard's state in place and return it (the fast path): no copying of
      // the window of ids on every event.
      Deposited(state, e, ctx) {
        if (seenBefore(state, e.data.id, e.time)) return state;
        ctx.emit('Credited', { account: e.data.account, amount: e.data.amount, id: e.data.id });
        state.available += e.data.amount;
        remember(state, e.data.id, e.time);
        return state;
      },
      TransferRequested(state, e, ctx) {
        const { id, from, to, amount } = e.data;
        if (seenBefore(state, id, e.time)) return state;
        remember(state, id, e.time);
        const reason = !state.opened
          ? 'no such account'
          : from === to
            ? 'cannot transfer to the same account'
            : amount <= 0
              ? 'amount must be positive'
              : state.available - amount < -state.overdraftLimit
                ? 'insufficient funds'
                : undefined;
        if (reason !== undefined) {
          ctx.emit('Rejected', { account: from, amount, id, reason });
          ctx.effect(notifications, { account: from, message: `transfer ${id} of ${amount} to ${to} rejected: ${reason}` });
          return state;
        }
        ctx.emit('Debited', { account: from, to, amount, id });
        state.available -= amount;
        return state;
      },
    },
  },
});

export interface BalanceState {
  balance: number;
  overdraftLimit: number;
  /** Money that entered the bank through this account (for the conservation invariant). */
  deposited: number;
  /**
   * Ledger entries applied in the latest hour of event time and the one before (DEDUPE_HOUR_MS; none
   * yet: the window starts at the first entry), by payer account and request id: the sides applied
   * (SIDES). An entry seen again is a platform bug (a redelivery), counted in `appliedTwice`. Entries
   * are filed under their own time, so the state is the same whatever order entries from different
   * payers arrive in; the platform's duplicates come soon after the original.
   */
  entries?: HourWindow<EntrySlot>;
  /** How versions before Dec 2026 kept the window (by hour, entries named `${id}@${payer}:${side}`); moved into `entries` when next used. */
  applied?: Record<string, Record<string, true>>;
  appliedTwice: number;
}

export const balances = defineProcess({
  name: 'balances',
  inputs: {
    // A debit concerns two accounts: deliver it to both shards.
    ledger: keyedBy(ledgerStream, (e) => (e.type === 'Debited' ? [e.data.account, e.data.to] : e.data.account)),
  },
  output: balancesStream,
  initial: (): BalanceState => ({ balance: 0, overdraftLimit: 0, deposited: 0, appliedTwice: 0 }),
  on: {
    ledger: {
      Opened: (state, e) => ({ ...state, overdraftLimit: e.data.overdraftLimit }),
      Credited(state, e, ctx) {
        const next = applyEntry(state, e.data.account, e.data.id, 'credit', e.time, e.data.amount);
        next.deposited += e.data.amount;
        ctx.emit('BalanceChanged', { account: ctx.key, balance: next.balance });
        return next;
      },
      Debited(state, e, ctx) {
        const payer = ctx.key === e.data.account;
        const before = state.balance;
        // Request ids are unique per payer account (the ledger dedupes per account), so entries are named
        // by both. (A request resent after the ledger's window is a new one; entries are filed by time,
        // so by then the balances have forgotten the first.)
        const next = applyEntry(state, e.data.account, e.data.id, payer ? 'out' : 'in', e.time, payer ? -e.data.amount : e.data.amount);
        if (payer && next.balance < 0 && before >= 0) {
          ctx.effect(notifications, { account: ctx.key, message: `account ${ctx.key} is overdrawn: ${next.balance}` });
        }
        ctx.emit('BalanceChanged', { account: ctx.key, balance: next.balance });
        return next;
      },
    },
  },
});

/** The sides of a ledger entry a balance applies, as bits: a credit, a debit of the payer, a debit's payee. */
export const SIDES = { credit: 1, out: 2, in: 4 } as const;
export type Side = keyof typeof SIDES;

/**
 * One hour of applied entries: payer → request id → the sides applied (bits of SIDES). Nested rather
 * than one name per entry: the ids and accounts are strings the events already carry, where a name
 * built per entry was a new string to hash on every call. Under LEGACY, entries a version before Dec
 * 2026 applied, by their old names (no account is named '').
 */
export type EntrySlot = Record<string, Record<string, number>>;
const LEGACY = '';

/**
 * Applies a ledger entry once (in place); an entry seen again within the window is counted, not
 * applied. Hours before the window are dropped; an entry older than the window cannot be checked and
 * is applied.
 */
export function applyEntry(state: BalanceState, payer: string, id: string, side: Side, time: number, delta: number): BalanceState {
  const hour = Math.floor(time / DEDUPE_HOUR_MS);
  const filed = slotFor((state.entries ??= entryWindow(state, hour)), hour, emptyRecord<Record<string, number>>);
  const byId = filed?.[payer];
  const sides = byId?.[id] ?? 0;
  const bit = SIDES[side];
  if ((sides & bit) !== 0 || (filed?.[LEGACY] !== undefined && filed[LEGACY][`${id}@${payer}:${side}`] !== undefined)) state.appliedTwice++;
  else {
    state.balance += delta;
    if (filed !== undefined) (byId ?? (filed[payer] = emptyRecord()))[id] = sides | bit;
  }
  return state;
}

/** A new window; a state of an earlier version keeps its last two hours, by their old names, under LEGACY. */
function entryWindow(state: BalanceState, hour: number): HourWindow<EntrySlot> {
  const hours = state.applied === undefined ? undefined : windowFromHours(state.applied);
  delete state.applied;
  const slot = (old: Record<string, true> | undefined): EntrySlot => {
    const s = emptyRecord<Record<string, number>>();
    if (old !== undefined) s[LEGACY] = Object.fromEntries(Object.keys(old).map((name) => [name, 1]));
    return s;
  };
  return hours === undefined ? { hour, latest: slot(undefined), before: slot(undefined) } : { hour: hours.hour, latest: slot(hours.latest), before: slot(hours.before) };
}

// ---------------------------------------------------------------- the app

export default defineApp({
  name: 'bank',
  streams: [transfers, ledgerStream, balancesStream],
  processes: [ledger, balances],
  gateways: [notifications],
  invariants: [
    defineInvariant('money is conserved', 'safety', (view) => {
      let total = 0;
      let deposited = 0;
      for (const key of view.keys(balances)) {
        const s = view.state(balances, key);
        total += s.balance;
        deposited += s.deposited;
      }
      return total === deposited ? undefined : `balances sum to ${total} but ${deposited} was deposited`;
    }),
    defineInvariant('no transfer applied twice', 'safety', (view) => {
      const twice = view.keys(balances).filter((k) => view.state(balances, k).appliedTwice > 0);
      return twice.length === 0 ? undefined : `ledger entries applied twice in accounts ${twice.join(', ')}`;
    }),
    defineInvariant('no balance below its overdraft limit', 'safety', (view) => {
      for (const key of view.keys(balances)) {
        const s = view.state(balances, key);
        if (s.balance < -s.overdraftLimit) return `account ${key} has balance ${s.balance}, below its overdraft limit ${s.overdraftLimit}`;
      }
      return undefined;
    }),
  ],
  workload: {
    ratePerSecond: 100,
    keys: 50,
    skew: 0.99,
    events: 1000,
    keyName: (n) => `acct-${n}`,
    make: ({ i, key, random }) => {
      if (i < 50) return { stream: transfers, type: 'AccountOpened', data: { account: `acct-${i}`, overdraftLimit: 100 } };
      if (random.chance(0.3)) return { stream: transfers, type: 'Deposited', data: { id: `d${i}`, account: key, amount: random.int(1, 200) } };
      const to = `acct-${random.int(0, 49)}`;
      return { stream: transfers, type: 'TransferRequested', data: { id: `t${i}`, from: key, to, amount: random.int(1, 150) } };
    },
  },
});
