/**
 * The bank's dedupe window (examples/bank/hour-window.ts): the two-slot window decides exactly as the
 * map by hour it replaced, and a state kept by an earlier version (its snapshot) carries on as if the
 * earlier version had kept running.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyEntry, DEDUPE_HOUR_MS, remember, seenBefore, SIDES, type BalanceState, type EntrySlot, type LedgerState } from '../../examples/bank/app.ts';

/** The balances' apply as versions up to Dec 2026 wrote it: entries by hour in a map, walked on every call. */
function applyByHourMap(state: { balance: number; appliedTwice: number; applied: Record<string, Record<string, true>> }, entry: string, time: number, delta: number): void {
  const hour = Math.floor(time / DEDUPE_HOUR_MS);
  let latest = hour;
  for (const h of Object.keys(state.applied)) if (Number(h) > latest) latest = Number(h);
  for (const h of Object.keys(state.applied)) if (Number(h) < latest - 1) delete state.applied[h];
  const filed = hour >= latest - 1 ? (state.applied[hour] ??= {}) : undefined;
  if (filed?.[entry]) state.appliedTwice++;
  else {
    state.balance += delta;
    if (filed !== undefined) filed[entry] = true;
  }
}

/** The ledger's window as a specification: an id is seen while the hour it was remembered in is the latest hour or the one before. */
class SeenModel {
  private latest = -Infinity;
  private readonly hourOf = new Map<string, number>();
  remember(id: string, time: number): void {
    const hour = Math.floor(time / DEDUPE_HOUR_MS);
    this.latest = Math.max(this.latest, hour);
    if (hour >= this.latest - 1) this.hourOf.set(id, hour);
  }
  seen(id: string): boolean {
    const hour = this.hourOf.get(id);
    return hour !== undefined && hour >= this.latest - 1;
  }
}

const start = Date.UTC(2024, 0, 1);
const SIDE_NAMES = ['credit', 'out', 'in'] as const;
/** Steps whose times wander back and forth over a few hours, mostly forward (as merged inputs do), with entries that repeat. */
const stepsOver = (ids: number) => fc.array(
  fc.record({
    id: fc.integer({ min: 0, max: ids - 1 }).map((n) => `t${n}`),
    // Accounts and ids that an entry name could not be split back into (`@` and `:` in them).
    payer: fc.constantFrom('a', 'b@x', 'c:1'),
    side: fc.constantFrom(...SIDE_NAMES),
    dt: fc.integer({ min: -2 * DEDUPE_HOUR_MS, max: 2 * DEDUPE_HOUR_MS }),
    amount: fc.integer({ min: -50, max: 50 }),
  }),
  { maxLength: 80 },
);
const steps = stepsOver(31);
const times = (dts: readonly number[]): number[] => {
  let t = start;
  return dts.map((dt) => (t = Math.max(start, t + Math.trunc(dt / 3) + (dt > 0 ? dt : 0))));
};
const entryName = (x: { id: string; payer: string; side: string }): string => `${x.id}@${x.payer}:${x.side}`;

/** The entries a slot holds, by their old names. */
function names(slot: EntrySlot): string[] {
  const out: string[] = [];
  for (const [payer, byId] of Object.entries(slot)) {
    if (payer === '') out.push(...Object.keys(byId));
    else for (const [id, sides] of Object.entries(byId)) for (const side of SIDE_NAMES) if ((sides & SIDES[side]) !== 0) out.push(entryName({ id, payer, side }));
  }
  return out.sort();
}

describe('the bank dedupe window', () => {
  it('applies and counts entries exactly as the map by hour did', () => {
    fc.assert(
      fc.property(steps, (s) => {
        const t = times(s.map((x) => x.dt));
        const state: BalanceState = { balance: 0, overdraftLimit: 0, deposited: 0, appliedTwice: 0 };
        const old = { balance: 0, appliedTwice: 0, applied: {} as Record<string, Record<string, true>> };
        s.forEach((x, i) => {
          applyEntry(state, x.payer, x.id, x.side, t[i] as number, x.amount);
          applyByHourMap(old, entryName(x), t[i] as number, x.amount);
          expect([state.balance, state.appliedTwice]).toEqual([old.balance, old.appliedTwice]);
        });
        // The same entries kept, and only two hours' worth.
        const w = state.entries;
        expect(w === undefined).toBe(s.length === 0);
        if (w === undefined) return;
        expect(names(w.latest)).toEqual(Object.keys(old.applied[w.hour] ?? {}).sort());
        expect(names(w.before)).toEqual(Object.keys(old.applied[w.hour - 1] ?? {}).sort());
        for (const h of Object.keys(old.applied)) expect([w.hour, w.hour - 1]).toContain(Number(h));
      }),
    );
  });

  it('carries on from a state an earlier version kept (entries by hour, by name) as that version would have', () => {
    fc.assert(
      // Few names, so that entries repeat across the cut.
      fc.property(stepsOver(3), fc.nat(), (s, cut) => {
        const t = times(s.map((x) => x.dt));
        const k = s.length === 0 ? 0 : cut % (s.length + 1);
        const old = { balance: 0, appliedTwice: 0, applied: {} as Record<string, Record<string, true>> };
        s.slice(0, k).forEach((x, i) => applyByHourMap(old, entryName(x), t[i] as number, x.amount));
        // The snapshot the earlier version wrote, restored into the new version.
        const state = JSON.parse(JSON.stringify({ ...old, overdraftLimit: 0, deposited: 0 })) as BalanceState;
        s.slice(k).forEach((x, j) => {
          applyEntry(state, x.payer, x.id, x.side, t[k + j] as number, x.amount);
          applyByHourMap(old, entryName(x), t[k + j] as number, x.amount);
          expect([state.balance, state.appliedTwice]).toEqual([old.balance, old.appliedTwice]);
        });
        if (k < s.length) expect(state.applied).toBeUndefined();
      }),
    );
  });

  it('remembers a request id while its hour is the latest or the one before, and keeps only those', () => {
    fc.assert(
      fc.property(steps, (s) => {
        const t = times(s.map((x) => x.dt));
        const state: LedgerState = { opened: true, overdraftLimit: 0, available: 0 };
        const model = new SeenModel();
        s.forEach((x, i) => {
          const time = t[i] as number;
          // As the ledger does: a request already seen is not remembered again.
          expect(seenBefore(state, x.id, time), `${x.id} at step ${i}`).toBe(model.seen(x.id));
          if (!model.seen(x.id)) {
            remember(state, x.id, time);
            model.remember(x.id, time);
          }
          for (let n = 0; n <= 30; n++) expect(seenBefore(state, `t${n}`, time), `t${n} after step ${i}`).toBe(model.seen(`t${n}`));
        });
        // Each id once: the window holds exactly the ids seen.
        const w = state.ids;
        if (w !== undefined) expect([...Object.keys(w.latest), ...Object.keys(w.before)].sort()).toEqual(Array.from({ length: 31 }, (_, n) => `t${n}`).filter((id) => model.seen(id)).sort());
      }),
    );
  });

  it('moves a state an earlier version kept (ids in `seen` and by hour) into the window, forgetting the hours before it', () => {
    const h = Math.floor(start / DEDUPE_HOUR_MS);
    const state: LedgerState = { opened: true, overdraftLimit: 0, available: 0, seen: { a: true, b: true, c: true }, seenHours: { [h]: ['a'], [h + 2]: ['b'], [h + 3]: ['c'] } };
    expect(seenBefore(state, 'a', (h + 3) * DEDUPE_HOUR_MS)).toBe(false);
    expect(state.seen).toBeUndefined();
    expect(state.seenHours).toBeUndefined();
    remember(state, 'd', (h + 3) * DEDUPE_HOUR_MS);
    expect(state.ids).toEqual({ hour: h + 3, latest: { c: true, d: true }, before: { b: true } });
    remember(state, 'e', (h + 5) * DEDUPE_HOUR_MS);
    expect(['b', 'c', 'd', 'e'].filter((id) => seenBefore(state, id, (h + 5) * DEDUPE_HOUR_MS))).toEqual(['e']);
    // A state with `seen` alone starts the window at the hour of its next event.
    const bare: LedgerState = { opened: true, overdraftLimit: 0, available: 0, seen: { x: true } };
    expect(seenBefore(bare, 'x', h * DEDUPE_HOUR_MS)).toBe(true);
    expect(bare.ids?.hour).toBe(h);
  });
});
