/**
 * A lane's cells as characters and colours: the loudest category in a cell shows as a marker,
 * otherwise a block whose height is the cell's event rate (log scale against the lane's busiest cell
 * in view), coloured by what kind of activity it was. Pure, so the summary and the UI share it.
 */
import type { Category, LaneStrip } from './types.ts';

export type Colour = 'red' | 'yellow' | 'magenta' | 'blue' | 'cyan' | 'green' | 'gray' | undefined;

export interface Glyph {
  readonly char: string;
  readonly colour: Colour;
}

/** Markers, loudest first: the first category present in a cell decides its character. */
export const MARKERS: ReadonlyArray<{ readonly category: Category; readonly char: string; readonly colour: Colour; readonly meaning: string }> = [
  { category: 'violation', char: '!', colour: 'red', meaning: 'invariant violation' },
  { category: 'crash', char: 'X', colour: 'red', meaning: 'crash (runner, store power cut, runner failed)' },
  { category: 'fault', char: 'x', colour: 'red', meaning: 'injected fault (slow, lost request or reply, partition, pause, gateway error)' },
  { category: 'overdue', char: 'o', colour: 'yellow', meaning: 'retries became overdue' },
  { category: 'lease', char: 'L', colour: 'magenta', meaning: 'lease acquired, waited for, or lost (fenced)' },
  { category: 'start', char: '^', colour: 'cyan', meaning: 'runner (re)started: catch-up begins' },
  { category: 'snapshot', char: 's', colour: 'blue', meaning: 'snapshot taken, restored or ignored' },
];

const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

export const RATE_LEGEND = `${BLOCKS.join('')} event rate (log scale, per lane); colour: yellow retries, cyan catch-up, green live`;

export function glyphs(strip: LaneStrip): Glyph[] {
  let max = 0;
  for (const cell of strip.cells) max = Math.max(max, cellTotal(cell));
  return strip.cells.map((cell, i) => {
    for (const m of MARKERS) if ((cell[m.category] ?? 0) > 0) return { char: m.char, colour: m.colour };
    const n = cellTotal(cell);
    const catchUp = strip.catchUp[i] === true || (cell.suppressed ?? 0) > 0;
    if (n === 0) return { char: catchUp ? '·' : ' ', colour: catchUp ? 'cyan' : undefined };
    const level = Math.max(1, Math.ceil((BLOCKS.length * Math.log1p(n)) / Math.log1p(max)));
    const colour: Colour = (cell.retry ?? 0) > 0 ? 'yellow' : catchUp ? 'cyan' : 'green';
    return { char: BLOCKS[level - 1] as string, colour };
  });
}

export function cellTotal(cell: Readonly<Partial<Record<Category, number>>>): number {
  let n = 0;
  for (const k in cell) n += cell[k as Category] ?? 0;
  return n;
}

/** Runs of equal colour, so a lane renders as a few coloured spans rather than one per cell. */
export function spans(gs: readonly Glyph[]): Array<{ text: string; colour: Colour }> {
  const out: Array<{ text: string; colour: Colour }> = [];
  for (const g of gs) {
    const last = out[out.length - 1];
    if (last !== undefined && last.colour === g.colour) last.text += g.char;
    else out.push({ text: g.char, colour: g.colour });
  }
  return out;
}
