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
 * Moves `window` on to `hour` if that is later, handing what falls out of it to `drop` (with `owner`:
 * no closure per call). Returns the slot for `hour`: the latest or the one before, or undefined for an
 * hour before the window (it can no longer be checked).
 */
export function slotFor<T, O>(window: HourWindow<T>, hour: number, empty: () => T, drop?: (old: T, owner: O) => void, owner?: O): T | undefined {
  if (hour > window.hour) {
    drop?.(window.before, owner as O);
    if (hour === window.hour + 1) window.before = window.latest;
    else {
      drop?.(window.latest, owner as O);
      window.before = empty();
    }
    window.latest = empty();
    window.hour = hour;
  }
  return hour === window.hour ? window.latest : hour === window.hour - 1 ? window.before : undefined;
}

/** A window by hour as earlier versions kept it (`Record<hour, T>`), as a two-slot window; hours before it go to `drop`. */
export function windowFromHours<T, O>(hours: Record<string, T>, empty: () => T, drop?: (old: T, owner: O) => void, owner?: O): HourWindow<T> | undefined {
  const keys = Object.keys(hours);
  if (keys.length === 0) return undefined;
  const hour = Math.max(...keys.map(Number));
  for (const h of keys) if (Number(h) < hour - 1) drop?.(hours[h] as T, owner as O);
  return { hour, latest: hours[hour] ?? empty(), before: hours[hour - 1] ?? empty() };
}

/**
 * An empty object for use as a map by id in a shard's state (JSON like any object). Without a
 * prototype V8 keeps it as a hash table from the start; a `{}` that gains a new key per event builds
 * a hidden class per key first, which cost 4–10x as much per insert here.
 */
export function emptyRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}
