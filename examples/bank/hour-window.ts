/**
 * The bank's dedupe window (DEDUPE_HOUR_MS in ./app.ts): what was filed in the latest hour of event
 * time and in the hour before, kept in a shard's JSON state.
 */

/**
 * A window of two hours of event time: the latest hour seen and what was filed under it, and what was
 * filed under the hour before. Two named slots, not a map by hour, so that a handler call costs the
 * same however the hours run (walking a map's keys on every call was a third of the bank's cost).
 */
export interface HourWindow<T> {
  hour: number;
  latest: T;
  before: T;
}

/**
 * Moves `window` on to `hour` if that is later (what falls out of it is dropped). Returns the slot for
 * `hour`: the latest or the one before, or undefined for an hour before the window (it can no longer
 * be checked).
 */
export function slotFor<T>(window: HourWindow<T>, hour: number, empty: () => T): T | undefined {
  if (hour > window.hour) {
    window.before = hour === window.hour + 1 ? window.latest : empty();
    window.latest = empty();
    window.hour = hour;
  }
  return hour === window.hour ? window.latest : hour === window.hour - 1 ? window.before : undefined;
}

/** The last two hours of a map by hour (`Record<hour, T>`, as versions before Dec 2026 kept the window); none if it is empty. */
export function windowFromHours<T>(hours: Record<string, T>): { hour: number; latest: T | undefined; before: T | undefined } | undefined {
  const keys = Object.keys(hours);
  if (keys.length === 0) return undefined;
  const hour = Math.max(...keys.map(Number));
  return { hour, latest: hours[hour], before: hours[hour - 1] };
}

/**
 * An empty object for use as a map by id in a shard's state (JSON like any object). Without a
 * prototype V8 keeps it as a hash table from the start; a `{}` that gains a new key per event builds
 * a hidden class per key first, which cost 4–10x as much per insert here.
 */
export function emptyRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}
