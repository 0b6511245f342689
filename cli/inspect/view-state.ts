/**
 * Where the user is looking: a time window, a cursor column and a selected lane. Pure functions of
 * the state, so navigation is tested without a terminal and the UI only maps keys to them.
 */
import type { InspectEvent, SourceInfo, Window } from './types.ts';

export interface View {
  /** The time window shown. */
  readonly window: Window;
  /** The cursor's column, 0..columns-1. */
  readonly cursor: number;
  /** Index into the lane list of the selected lane. */
  readonly lane: number;
}

/** The smallest window: zooming further would show less than a microsecond per column. */
const MIN_SPAN_MS = 0.001;

/** The whole range, with a sliver after the last event so it falls inside the last column. */
export function fullWindow(info: Pick<SourceInfo, 'fromMs' | 'toMs'>): Window {
  const span = Math.max(info.toMs - info.fromMs, 1);
  return { fromMs: info.fromMs, toMs: info.fromMs + span * 1.0001 };
}

export function overview(info: Pick<SourceInfo, 'fromMs' | 'toMs'>): View {
  return { window: fullWindow(info), cursor: 0, lane: 0 };
}

export function columnMs(view: View, columns: number): number {
  return (view.window.toMs - view.window.fromMs) / columns;
}

/** The time range under the cursor. */
export function cursorWindow(view: View, columns: number): Window {
  const w = columnMs(view, columns);
  const fromMs = view.window.fromMs + view.cursor * w;
  return { fromMs, toMs: fromMs + w };
}

export function columnOf(view: View, columns: number, timeMs: number): number {
  return Math.floor((timeMs - view.window.fromMs) / columnMs(view, columns));
}

/** Zooms by `factor` (2: in, 0.5: out) keeping the time under the cursor under the cursor; never past the whole range. */
export function zoom(view: View, columns: number, factor: number, info: Pick<SourceInfo, 'fromMs' | 'toMs'>): View {
  const full = fullWindow(info);
  const fullSpan = full.toMs - full.fromMs;
  const span = view.window.toMs - view.window.fromMs;
  const newSpan = Math.min(fullSpan, Math.max(MIN_SPAN_MS * columns, span / factor));
  const at = cursorWindow(view, columns);
  const pivot = (at.fromMs + at.toMs) / 2;
  const cursorFraction = (view.cursor + 0.5) / columns;
  const fromMs = clamp(pivot - cursorFraction * newSpan, full.fromMs, full.toMs - newSpan);
  const next = { ...view, window: { fromMs, toMs: fromMs + newSpan } };
  return { ...next, cursor: clampInt(columnOf(next, columns, pivot), 0, columns - 1) };
}

/** Moves the cursor by `delta` columns; past an edge the window pans instead (never beyond the range). */
export function moveCursor(view: View, columns: number, delta: number, info: Pick<SourceInfo, 'fromMs' | 'toMs'>): View {
  const cursor = view.cursor + delta;
  if (cursor >= 0 && cursor < columns) return { ...view, cursor };
  const panned = pan(view, columns, cursor < 0 ? cursor : cursor - (columns - 1), info);
  return { ...panned, cursor: clampInt(cursor, 0, columns - 1) };
}

/** Shifts the window by `columnsDelta` columns, clamped to the range. */
export function pan(view: View, columns: number, columnsDelta: number, info: Pick<SourceInfo, 'fromMs' | 'toMs'>): View {
  const full = fullWindow(info);
  const span = view.window.toMs - view.window.fromMs;
  const fromMs = clamp(view.window.fromMs + columnsDelta * columnMs(view, columns), full.fromMs, full.toMs - span);
  return { ...view, window: { fromMs, toMs: fromMs + span } };
}

/** `g` (start) and `G` (end): the window at an end of the range, the cursor on its first or last column. */
export function toEnd(view: View, columns: number, end: 'start' | 'end', info: Pick<SourceInfo, 'fromMs' | 'toMs'>): View {
  const full = fullWindow(info);
  const span = view.window.toMs - view.window.fromMs;
  const fromMs = end === 'start' ? full.fromMs : full.toMs - span;
  return { ...view, window: { fromMs, toMs: fromMs + span }, cursor: end === 'start' ? 0 : columns - 1 };
}

export function moveLane(view: View, delta: number, lanes: number): View {
  return { ...view, lane: clampInt(view.lane + delta, 0, Math.max(0, lanes - 1)) };
}

/** Brings an event into view (centred if it was outside), on its lane, under the cursor. */
export function focus(view: View, columns: number, e: InspectEvent, lanes: readonly string[], info: Pick<SourceInfo, 'fromMs' | 'toMs'>): View {
  let next = view;
  if (e.timeMs < view.window.fromMs || e.timeMs >= view.window.toMs) {
    const span = view.window.toMs - view.window.fromMs;
    const full = fullWindow(info);
    const fromMs = clamp(e.timeMs - span / 2, full.fromMs, full.toMs - span);
    next = { ...view, window: { fromMs, toMs: fromMs + span } };
  }
  const lane = lanes.indexOf(e.lane);
  return { ...next, cursor: clampInt(columnOf(next, columns, e.timeMs), 0, columns - 1), lane: lane < 0 ? next.lane : lane };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, x));
}

function clampInt(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, Math.trunc(x)));
}
