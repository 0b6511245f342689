/** Navigation (view-state.ts) and the filter syntax (filter.ts), for any range, window and keys. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeFilter, parseFilter } from '../../../cli/inspect/filter.ts';
import { cursorWindow, fullWindow, moveCursor, overview, pan, toEnd, zoom, type View } from '../../../cli/inspect/view-state.ts';

const rangeArb = fc.record({ fromMs: fc.integer({ min: 0, max: 1e12 }), spanMs: fc.integer({ min: 1, max: 1e9 }) }).map((r) => ({ fromMs: r.fromMs, toMs: r.fromMs + r.spanMs }));
const keyArb = fc.constantFrom('+', '-', 'left', 'right', 'H', 'L', 'g', 'G');

function press(view: View, key: string, columns: number, info: { fromMs: number; toMs: number }): View {
  switch (key) {
    case '+': return zoom(view, columns, 2, info);
    case '-': return zoom(view, columns, 0.5, info);
    case 'left': return moveCursor(view, columns, -1, info);
    case 'right': return moveCursor(view, columns, 1, info);
    case 'H': return pan(view, columns, -Math.floor(columns / 2), info);
    case 'L': return pan(view, columns, Math.floor(columns / 2), info);
    case 'g': return toEnd(view, columns, 'start', info);
    default: return toEnd(view, columns, 'end', info);
  }
}

describe('navigating the timeline', () => {
  it('never leaves the range, never grows past it, and keeps the cursor on a column', () => {
    fc.assert(
      fc.property(rangeArb, fc.integer({ min: 10, max: 300 }), fc.array(keyArb, { maxLength: 60 }), (info, columns, keys) => {
        const full = fullWindow(info);
        let view = overview(info);
        for (const key of keys) {
          view = press(view, key, columns, info);
          const span = view.window.toMs - view.window.fromMs;
          expect(span).toBeGreaterThan(0);
          expect(span).toBeLessThanOrEqual((full.toMs - full.fromMs) * (1 + 1e-9));
          expect(view.window.fromMs).toBeGreaterThanOrEqual(full.fromMs - 1e-6 * span);
          expect(view.window.toMs).toBeLessThanOrEqual(full.toMs + 1e-6 * span);
          expect(view.cursor).toBeGreaterThanOrEqual(0);
          expect(view.cursor).toBeLessThan(columns);
        }
      }),
    );
  });

  it('zooming in keeps the time under the cursor under the cursor, and zooming back out restores the span', () => {
    fc.assert(
      fc.property(rangeArb, fc.integer({ min: 10, max: 300 }), fc.nat(), (info, columns, at) => {
        const start = { ...overview(info), cursor: at % columns };
        const before = cursorWindow(start, columns);
        const pivot = (before.fromMs + before.toMs) / 2;
        const zoomed = zoom(start, columns, 2, info);
        const under = cursorWindow(zoomed, columns);
        // The pivot stays inside the cursor's (now narrower) time slice, give or take float rounding.
        const slack = (under.toMs - under.fromMs) * 1e-6;
        expect(pivot).toBeGreaterThanOrEqual(under.fromMs - slack);
        expect(pivot).toBeLessThanOrEqual(under.toMs + slack);
        const back = zoom(zoomed, columns, 0.5, info);
        expect(back.window.toMs - back.window.fromMs).toBeCloseTo(start.window.toMs - start.window.fromMs, 3);
      }),
    );
  });
});

describe('the / filter', () => {
  const word = fc.stringMatching(/^[a-z0-9][a-z0-9.#-]{0,8}$/);
  it('reads back what it describes: field terms and free text', () => {
    fc.assert(
      fc.property(fc.record({ stream: word, key: word, type: word, actor: word, kind: word, text: word }, { requiredKeys: [] }), (filter) => {
        const text = describeFilter(filter);
        const parsed = parseFilter(text);
        if (Object.keys(filter).length === 0) expect(parsed).toBeUndefined();
        else expect(parsed).toEqual(filter);
      }),
    );
  });

  it('treats unknown prefixes as text and an empty line as no filter', () => {
    expect(parseFilter('  ')).toBeUndefined();
    expect(parseFilter('key:acct-7 colour:red overdrawn')).toEqual({ key: 'acct-7', text: 'colour:red overdrawn' });
  });
});
