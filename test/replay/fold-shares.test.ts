/**
 * A columnar fold of some of the shards (a worker's share, src/replay/worker-pool.ts) computes, for
 * each of its shards, exactly what a fold of all of them computes: states, outputs, effects, counts
 * and fallbacks, whatever the batches, the numbering and the split, whether it finds its rows itself
 * or from the runs of a key the worker pool finds (fast-check); and the runs it finds its rows in are
 * exactly its rows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProcessDef } from 'spive';
import type { ColumnBatch } from '../../src/store/event-store.ts';
import { ColumnFold, keyRuns, ownRuns, ownRunsOfKeyRuns, type FoldStart } from '../../src/replay/columnar-fold.ts';
import { shareOut } from '../../src/replay/worker-pool.ts';
import { totalsApp } from './fixtures/totals.ts';

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];
const TYPES = ['Paid', 'Refunded', 'Noted', '$idle'];

const row = fc.record({ key: fc.nat(KEYS.length - 1), type: fc.nat(TYPES.length - 1), amount: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: -5, max: 120 }) }, { weight: 1, arbitrary: fc.constant(Number.NaN) }) });

/** Rows as consecutive batches (of the given lengths; the rest in one more), numbered 1, 2, … from time 1000. */
function batches(rows: ReadonlyArray<{ key: number; type: number; amount: number }>, cuts: readonly number[]): ColumnBatch[] {
  const out: ColumnBatch[] = [];
  let at = 0;
  for (const cut of [...cuts, rows.length]) {
    const part = rows.slice(at, at + Math.max(1, cut));
    if (part.length === 0) break;
    out.push({
      stream: 'payments',
      length: part.length,
      keys: KEYS,
      keyIndex: Int32Array.from(part, (r) => r.key),
      types: TYPES,
      typeIndex: Int32Array.from(part, (r) => r.type),
      seq: Float64Array.from(part, (_, i) => at + i + 1),
      time: Float64Array.from(part, (_, i) => 1000 + at + i),
      position: Float64Array.from(part, (_, i) => at + i + 1),
      fields: { amount: Float64Array.from(part, (r) => r.amount) },
    });
    at += part.length;
  }
  return out;
}

/** A fold over the batches; `runs`: handed each batch's runs of a key (as worker-pool.ts finds them), or none: it finds its rows itself. */
function fold(process: ProcessDef<unknown>, shards: ReadonlyMap<string, FoldStart>, input: readonly ColumnBatch[], m: Float64Array | null, runs = false) {
  const f = new ColumnFold({ process, version: 'v2', m, shards });
  let g0 = 0;
  for (const b of input) {
    f.batch(b, b.length, g0, runs ? starts(b.keyIndex) : undefined);
    g0 += b.length;
  }
  return f.result();
}

/** Where the runs of one key start among the keys. */
function starts(keyIndex: Int32Array): Int32Array {
  const into = new Int32Array(keyIndex.length);
  return into.subarray(0, keyRuns(keyIndex, keyIndex.length, into, keyIndex.length));
}

describe('a fold of a share of the shards', () => {
  it('computes for each of its shards what the fold of all of them computes (property)', () => {
    const process = totalsApp('v2').processes.find((p) => p.name === 'totals') as ProcessDef<unknown>;
    fc.assert(
      fc.property(
        fc.array(row, { minLength: 1, maxLength: 80 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.subarray(KEYS, { minLength: 1 }),
        fc.boolean(),
        fc.boolean(),
        (rows, cuts, parts, rebuilt, skipSome, runs) => {
          const input = batches(rows, cuts);
          // A merged numbering where some inputs were never taken (0), or the input's own.
          const m = skipSome ? Float64Array.from(rows, (_, i) => (i % 7 === 3 ? 0 : i + 1)) : null;
          // Fresh states for every fold: handlers may change their state in place.
          const shards = () => new Map(rebuilt.map((k): [string, FoldStart] => [k, { state: (process.initial as (k: string) => unknown)(k), afterM: k === 'b' ? 2 : 0 }]));
          const whole = fold(process, shards(), input, m);
          const split = shareOut(shards(), undefined, parts);
          const shares = split.map((share) => fold(process, share, input, m, runs));
          const merged = new Map(shares.flatMap((r) => [...r.shards]));
          expect([...merged.keys()].sort()).toEqual([...whole.shards.keys()].sort());
          for (const [key, shard] of whole.shards) expect(merged.get(key)).toEqual(shard);
          expect(new Set(shares.flatMap((r) => [...r.fallback]))).toEqual(whole.fallback);
          expect(whole.shards.size + whole.fallback.size).toBe(rebuilt.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('finds its rows as maximal runs: every row of its keys once, in order, and no other (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5), { maxLength: 200 }), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), fc.nat(3), (keyIndex, own, spare) => {
        const slots = Int32Array.from(own, (o, k) => (o ? k : -1));
        const n = keyIndex.length;
        const into = new Int32Array(n + 1 + spare).fill(-7);
        const count = ownRuns(Int32Array.from(keyIndex), slots, n, into);
        const covered: number[] = [];
        for (let q = 0; q < count; q += 2) {
          const [from, to] = [into[q] as number, into[q + 1] as number];
          expect(from).toBeLessThan(to);
          // Maximal: the rows just outside a run are not its keys'.
          if (from > 0) expect(own[keyIndex[from - 1] as number]).toBe(false);
          if (to < n) expect(own[keyIndex[to] as number]).toBe(false);
          for (let i = from; i < to; i++) covered.push(i);
        }
        expect(covered).toEqual(keyIndex.flatMap((k, i) => (own[k] ? [i] : [])));
        expect(into[count]).toBe(count < into.length ? -7 : undefined); // nothing written past the count
        // The same runs from the runs of one key.
        const keys = Int32Array.from(keyIndex);
        const fromKeyRuns = new Int32Array(n + 1);
        expect(fromKeyRuns.subarray(0, ownRunsOfKeyRuns(starts(keys), keys, slots, n, fromKeyRuns))).toEqual(into.subarray(0, count));
      }),
      { numRuns: 300 },
    );
  });

  it('finds where the runs of one key start, or gives up past the most it may find (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(3), { maxLength: 100 }), fc.integer({ min: 1, max: 40 }), (keys, most) => {
        const expected = keys.flatMap((k, i) => (i === 0 || k !== keys[i - 1] ? [i] : []));
        const into = new Int32Array(most);
        const count = keyRuns(Int32Array.from(keys), keys.length, into, most);
        if (expected.length > most) expect(count).toBe(-1);
        else expect([...into.subarray(0, count)]).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
