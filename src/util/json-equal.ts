/**
 * Equality of JSON data regardless of object key order. Stores may hand payloads back with their
 * keys in another order than they were written (PostgreSQL's jsonb sorts them), so anything that
 * compares payloads — the replay's fork point, the simulator's final-state oracle — compares values,
 * not printed text.
 */

/** JSON with object keys sorted: equal values print equally whatever their insertion order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * True when `a` and `b` are plain JSON data that `canonical` would print equally, decided without
 * printing (states can hold thousands of entries). False means "not proven equal": compare `canonical`.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true; // canonical is a function of the value
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (!plain(a) || !plain(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) {
    if (!Object.hasOwn(b, k) || !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** Equal as JSON data, whatever the key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return sameJson(a, b) || canonical(a) === canonical(b);
}

/** An object JSON prints as its own properties (no class, no toJSON). */
function plain(o: object): boolean {
  const proto = Object.getPrototypeOf(o);
  return (proto === Object.prototype || proto === null) && typeof (o as { toJSON?: unknown }).toJSON !== 'function';
}
