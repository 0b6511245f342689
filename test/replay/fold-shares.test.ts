/**
 * A columnar fold of some of the shards (a worker's share, src/replay/worker-pool.ts) computes, for
 * each of its shards, exactly what a fold of all of them computes: states, outputs, effects, counts
 * and fallbacks, whatever the batches, the numbering and the split, whether it picks its rows itself
 * or is handed them as the worker pool picks them (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProcessDef } from 'spive';
import type { ColumnBatch } from '../../src/store/event-store.ts';
import { ColumnFold, pickRows, type FoldStart } from '../../src/replay/columnar-fold.ts';
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

/** A fold over the batches; `pick`: the rows of each batch handed to it (as worker-pool.ts picks them), or none: it picks them itself. */
function fold(process: ProcessDef<unknown>, shards: ReadonlyMap<string, FoldStart>, input: readonly ColumnBatch[], m: Float64Array | null, pick?: (b: ColumnBatch) => Int32Array) {
  const f = new ColumnFold({ process, version: 'v2', m, shards });
  let g0 = 0;
  for (const b of input) {
    f.batch(b, b.length, g0, pick?.(b));
    g0 += b.length;
  }
  return f.result();
}

/** Worker `w`'s rows of a batch, picked by pickRows for every share at once. */
function picker(shares: ReadonlyArray<ReadonlyMap<string, unknown>>, w: number): (b: ColumnBatch) => Int32Array {
  const ownerOf = new Map(shares.flatMap((share, i) => [...share.keys()].map((k): [string, number] => [k, i])));
  return (b) => {
    const rows = new Int32Array(b.length * shares.length);
    const counts = pickRows(b.keyIndex, Int32Array.from(b.keys, (k) => ownerOf.get(k) ?? -1), b.length, rows, shares.length);
    return rows.slice(w * b.length, w * b.length + (counts[w] as number));
  };
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
        (rows, cuts, parts, rebuilt, skipSome, picked) => {
          const input = batches(rows, cuts);
          // A merged numbering where some inputs were never taken (0), or the input's own.
          const m = skipSome ? Float64Array.from(rows, (_, i) => (i % 7 === 3 ? 0 : i + 1)) : null;
          // Fresh states for every fold: handlers may change their state in place.
          const shards = () => new Map(rebuilt.map((k): [string, FoldStart] => [k, { state: (process.initial as (k: string) => unknown)(k), afterM: k === 'b' ? 2 : 0 }]));
          const whole = fold(process, shards(), input, m);
          const split = shareOut(shards(), undefined, parts);
          const shares = split.map((share, w) => fold(process, share, input, m, picked ? picker(split, w) : undefined));
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
});
