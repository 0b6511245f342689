/**
 * The data layer: whatever the trace and the view, the lanes count exactly the rows a plain count
 * finds, the aggregate (for big sources) agrees with the exact count to within one column, and the
 * causal links and the filter find the right rows.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSource } from '../../../cli/inspect/sources.ts';
import { cellTotal } from '../../../cli/inspect/strip.ts';
import type { TraceRow } from '../../../sim/trace.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { writeSmallTrace } from './small-trace.ts';

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir('spive-inspect-data-');
});
afterAll(() => dir.cleanup());

const STREAMS = ['transfers', 'ledger'];
const rowArb = fc.record({
  timeMs: fc.integer({ min: 0, max: 100_000 }),
  what: fc.constantFrom('append', 'fault.slow', 'runner.fault', 'violation', 'step'),
  stream: fc.constantFrom(...STREAMS),
  key: fc.constantFrom('a', 'b', 'c'),
});

function toRows(specs: Array<{ timeMs: number; what: string; stream: string; key: string }>): TraceRow[] {
  const sorted = [...specs].sort((a, b) => a.timeMs - b.timeMs);
  return sorted.map((r, i) => ({
    step: i + 1,
    simulatedMs: r.timeMs,
    kind: r.what,
    actor: r.what === 'append' ? 'ingress' : r.what === 'runner.fault' ? 'ledger-b#1' : r.what === 'step' ? 'net.request ledger-b append' : r.what === 'violation' ? 'some invariant' : 'faults',
    stream: r.what === 'append' ? r.stream : '',
    key: r.what === 'append' ? r.key : '',
    position: r.what === 'append' ? i + 1 : 0,
    detail: r.what === 'append' ? '1 Happened' : r.what,
  }));
}

let n = 0;
async function withTrace<T>(rows: TraceRow[], fn: (path: string) => Promise<T>): Promise<T> {
  const path = `${dir.path}/t${n++}.parquet`;
  await writeSmallTrace(path, rows);
  return fn(path);
}

describe('the timeline data layer', () => {
  it('counts every row once, in its lane and in the column of its time, for any window', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 1, maxLength: 60 }), fc.integer({ min: 5, max: 120 }), fc.double({ min: 0, max: 0.9, noNaN: true }), fc.double({ min: 0.05, max: 1, noNaN: true }), async (specs, columns, startFraction, widthFraction) => {
        const rows = toRows(specs);
        await withTrace(rows, async (path) => {
          const data = await openSource(path);
          try {
            const from = data.info.fromMs + startFraction * (data.info.toMs - data.info.fromMs);
            const window = { fromMs: from, toMs: from + Math.max(1, widthFraction * (data.info.toMs - data.info.fromMs + 1)) };
            const strips = await data.strips(window, columns);
            const colMs = (window.toMs - window.fromMs) / columns;
            const expected = new Map<string, number[]>();
            for (const r of rows) {
              if (r.simulatedMs < window.fromMs || r.simulatedMs >= window.toMs) continue;
              const lane = r.kind === 'append' ? `stream ${r.stream}` : r.kind === 'violation' ? 'violations' : r.kind === 'fault.slow' ? 'faults' : 'ledger-b';
              const cells = expected.get(lane) ?? new Array<number>(columns).fill(0);
              const c = Math.floor((r.simulatedMs - window.fromMs) / colMs);
              cells[Math.min(c, columns - 1)] = (cells[Math.min(c, columns - 1)] ?? 0) + 1;
              expected.set(lane, cells);
            }
            for (const s of strips) {
              expect(s.cells.map(cellTotal), s.lane).toEqual(expected.get(s.lane) ?? new Array<number>(columns).fill(0));
            }
          } finally {
            await data.close();
          }
        });
      }),
      { numRuns: 6 },
    );
  });

  it('the precomputed aggregate agrees with the exact count, each row at most one column off', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 2, maxLength: 80 }), fc.integer({ min: 5, max: 200 }), async (specs, columns) => {
        await withTrace(toRows(specs), async (path) => {
          const exact = await openSource(path);
          const aggregated = await openSource(path, { exactBelowRows: 0 });
          try {
            const window = { fromMs: exact.info.fromMs, toMs: exact.info.toMs + 1 };
            const a = await exact.strips(window, columns);
            const b = await aggregated.strips(window, columns);
            expect(b.map((s) => s.lane)).toEqual(a.map((s) => s.lane));
            for (let i = 0; i < a.length; i++) {
              const want = (a[i]?.cells ?? []).map(cellTotal);
              const got = (b[i]?.cells ?? []).map(cellTotal);
              expect(got.reduce((x, y) => x + y, 0)).toBe(want.reduce((x, y) => x + y, 0));
              // Moving rows at most one column: the running sums never differ by more than one column's worth.
              let wantSum = 0;
              let gotSum = 0;
              for (let c = 0; c < columns; c++) {
                wantSum += want[c] ?? 0;
                gotSum += got[c] ?? 0;
                expect(Math.abs(wantSum - gotSum)).toBeLessThanOrEqual((want[c] ?? 0) + (want[c + 1] ?? 0) + (got[c] ?? 0) + (got[c + 1] ?? 0));
              }
            }
          } finally {
            await exact.close();
            await aggregated.close();
          }
        });
      }),
      { numRuns: 5 },
    );
  });

  it('follows causes: an output finds its input, the input its outputs, both find the effect', async () => {
    const rows: TraceRow[] = [
      { step: 1, simulatedMs: 10, kind: 'append', actor: 'ingress', stream: 'transfers', key: 'k', position: 5, detail: '3 Deposited' },
      { step: 2, simulatedMs: 20, kind: 'append', actor: 'token 1', stream: 'ledger', key: 'k', position: 8, detail: '1 Credited', cause: 6 },
      { step: 3, simulatedMs: 30, kind: 'effect.suppressed', actor: 'ledger-b#1', stream: '', key: 'k', position: 0, detail: 'would have done mail', cause: 6 },
      { step: 4, simulatedMs: 40, kind: 'append', actor: 'token 1', stream: 'ledger', key: 'k', position: 9, detail: '1 Credited', cause: 12 },
    ];
    await withTrace(rows, async (path) => {
      const data = await openSource(path);
      try {
        const output = await data.firstIn('stream ledger', { fromMs: 0, toMs: 25 });
        expect(output?.position).toBe(8);
        const chain = await data.chain(output as NonNullable<typeof output>);
        // Position 6 lies inside the batch at 5..7.
        expect(chain.input?.position).toBe(5);
        expect(chain.effects.map((e) => e.kind)).toEqual(['effect.suppressed']);
        const back = await data.chain(chain.input as NonNullable<typeof chain.input>);
        expect(back.outputs.map((o) => o.position)).toEqual([8]);
        expect(back.effects.map((e) => e.detail)).toEqual(['would have done mail']);
        // Cause 12 is not in the trace: no input, and no error.
        const orphan = await data.step(output as NonNullable<typeof output>, 1, 'stream ledger');
        expect((await data.chain(orphan as NonNullable<typeof orphan>)).input).toBeUndefined();
      } finally {
        await data.close();
      }
    });
  });

  it('a filter keeps only matching rows and lanes, and n/N step through them in time order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 1, maxLength: 50 }), fc.constantFrom('a', 'b'), async (specs, key) => {
        const rows = toRows(specs);
        await withTrace(rows, async (path) => {
          const data = await openSource(path);
          try {
            await data.setFilter({ key });
            const matching = rows.filter((r) => r.key === key);
            expect(data.matches).toBe(matching.length);
            expect(data.lanes).toEqual([...new Set(matching.map((r) => `stream ${r.stream}`))].sort());
            const seen: number[] = [];
            for (let e = await data.firstAfter(data.info.fromMs); e !== undefined; e = await data.step(e, 1)) seen.push(e.step);
            expect(seen).toEqual(matching.map((r) => r.step));
          } finally {
            await data.close();
          }
        });
      }),
      { numRuns: 5 },
    );
  });
});
