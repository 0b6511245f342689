/**
 * Rolling counts over event-time windows, with bounded state: the counts of the last hour (in
 * 5-minute buckets) and of the last day (in 1-hour buckets), plus all-time totals.
 *
 * Buckets are filed under the event's own time and dropped when they fall out of the window behind
 * the *latest event time seen* — never by arrival or by the wall clock. So the state after a set of
 * events is the same whatever order they arrive in (a shard fed from many source shards sees them in
 * an order that depends on the network), and it holds at most 12 + 24 buckets however long an entity
 * lives. An event older than a window when it arrives (a late event) still counts in the totals.
 */

/** What a user did with an item. */
export type InteractionKind = 'view' | 'click' | 'purchase';
export const INTERACTION_KINDS: readonly InteractionKind[] = ['view', 'click', 'purchase'];

export type Counts = Record<InteractionKind, number>;

export interface WindowSpec {
  readonly bucketMs: number;
  /** Buckets in the window, the latest one included. */
  readonly buckets: number;
}

export const LAST_HOUR: WindowSpec = { bucketMs: 5 * 60_000, buckets: 12 };
export const LAST_DAY: WindowSpec = { bucketMs: 3_600_000, buckets: 24 };

export interface WindowedCounts {
  /** The latest event time seen (ms), null before the first event. */
  latestMs: number | null;
  /** Counts per bucket of LAST_HOUR, by bucket number (event time / bucketMs). */
  hour: Record<string, Counts>;
  /** Counts per bucket of LAST_DAY, by bucket number. */
  day: Record<string, Counts>;
  total: Counts;
}

export function zeroCounts(): Counts {
  return { view: 0, click: 0, purchase: 0 };
}

export function emptyWindows(): WindowedCounts {
  return { latestMs: null, hour: {}, day: {}, total: zeroCounts() };
}

/** Counts one event (in place): totals always; a window only when the event's bucket is still in it. */
export function record(w: WindowedCounts, kind: InteractionKind, timeMs: number): void {
  w.latestMs = w.latestMs === null ? timeMs : Math.max(w.latestMs, timeMs);
  w.total[kind]++;
  countIn(w.hour, LAST_HOUR, w.latestMs, kind, timeMs);
  countIn(w.day, LAST_DAY, w.latestMs, kind, timeMs);
}

function countIn(buckets: Record<string, Counts>, spec: WindowSpec, latestMs: number, kind: InteractionKind, timeMs: number): void {
  const oldest = Math.floor(latestMs / spec.bucketMs) - spec.buckets + 1;
  for (const b of Object.keys(buckets)) if (Number(b) < oldest) delete buckets[b];
  const bucket = Math.floor(timeMs / spec.bucketMs);
  if (bucket >= oldest) (buckets[bucket] ??= zeroCounts())[kind]++;
}

/** The counts of a window (`hour` or `day`), summed over its buckets. */
export function windowCounts(buckets: Readonly<Record<string, Counts>>): Counts {
  const sum = zeroCounts();
  for (const c of Object.values(buckets)) for (const k of INTERACTION_KINDS) sum[k] += c[k];
  return sum;
}
