/**
 * The inspector's vocabulary. A source (a simulation trace or an embedded store) is seen as one table
 * of events; the screen shows it as lanes (one per process/runner/stream) of cells (time buckets).
 */

/** What is being inspected, and how its time axis reads. */
export interface SourceInfo {
  /** `trace`: a simulation trace (simulated ms from 0); `store`: an embedded store (event time, ms since the epoch). */
  readonly kind: 'trace' | 'store';
  readonly path: string;
  readonly rows: number;
  readonly fromMs: number;
  /** Inclusive: the time of the last event. */
  readonly toMs: number;
}

/**
 * What a row means for the screen; decides its marker and colour. Ordered by how loudly it shows:
 * a cell shows the marker of its loudest category.
 */
export const CATEGORIES = ['violation', 'crash', 'fault', 'overdue', 'retry', 'lease', 'snapshot', 'start', 'live', 'effect', 'suppressed', 'event'] as const;
export type Category = (typeof CATEGORIES)[number];

/** One row of the source, as the detail pane shows it. */
export interface InspectEvent {
  /** Row number in the source: a stable identity. */
  readonly id: number;
  readonly timeMs: number;
  readonly step: number;
  readonly kind: string;
  readonly actor: string;
  readonly lane: string;
  readonly stream: string;
  readonly key: string;
  readonly position: number;
  /** Events in the row (an append may hold several, at positions position..position+count-1). */
  readonly count: number;
  /** Global position of the input this row came from (0: none). */
  readonly cause: number;
  readonly detail: string;
}

/** A time window [fromMs, toMs) shown over `columns` cells. */
export interface Window {
  readonly fromMs: number;
  readonly toMs: number;
}

/** Per lane and column, how many rows of each category fell there. */
export interface LaneStrip {
  readonly lane: string;
  /** Total rows in the window (after the filter). */
  readonly total: number;
  /** cells[column] = counts per category (missing: none). */
  readonly cells: ReadonlyArray<Readonly<Partial<Record<Category, number>>>>;
  /** Columns inside a catch-up phase of this lane (a runner between `started` and `live`). */
  readonly catchUp: ReadonlyArray<boolean>;
}

/** A parsed `/` filter: every given term must match (AND); `text` matches anywhere. */
export interface Filter {
  readonly stream?: string;
  readonly key?: string;
  readonly type?: string;
  readonly actor?: string;
  readonly kind?: string;
  readonly text?: string;
}

/** The causal neighbourhood of an event: what produced it and what it produced. */
export interface CausalChain {
  /** The input event this one came from (undefined: none recorded, or not in the source). */
  readonly input: InspectEvent | undefined;
  /** Appends and effects that name this event's positions as their input. */
  readonly outputs: readonly InspectEvent[];
  /** Effects requested by the same input as this event (performed or suppressed). */
  readonly effects: readonly InspectEvent[];
}
