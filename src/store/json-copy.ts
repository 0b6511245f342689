/**
 * A deep copy of a JSON value, equal to `JSON.parse(JSON.stringify(value))` but without the text in
 * between: stores copy every event they accept (a caller may mutate its objects afterwards), and the
 * round trip through a string was the largest cost of an in-memory append. Plain data (strings,
 * finite numbers, booleans, null, arrays, plain objects) is copied directly; anything JSON would
 * transform (undefined, functions, NaN, `toJSON`, class instances, `__proto__` keys, cycles, very deep
 * nesting) takes the exact JSON round trip, which also reports what is not serializable.
 */
import { encodeData } from './validate.ts';

/** Deeper than this, the copy falls back to the JSON round trip (which also detects cycles). */
const MAX_DEPTH = 64;

/** Marks a value the direct copy does not handle exactly as JSON does. */
const BAIL: unique symbol = Symbol('bail');

/** The copy of `value` as JSON would make it; throws INVALID_INPUT naming `field()` if it is not JSON. */
export function copyJson(value: unknown, field: () => string): unknown {
  const copy = direct(value, 0);
  return copy === BAIL ? JSON.parse(encodeData(value, field())) : copy;
}

function direct(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // JSON writes NaN and ±Infinity as null and -0 as 0.
      return Number.isFinite(value) ? (value === 0 ? 0 : value) : BAIL;
    case 'object': {
      if (value === null) return null;
      if (depth >= MAX_DEPTH) return BAIL;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype || typeof (value as { toJSON?: unknown }).toJSON === 'function') return BAIL;
        const out = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i++) {
          const c = direct(value[i], depth + 1);
          if (c === BAIL) return BAIL;
          out[i] = c;
        }
        return out;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype || typeof (value as { toJSON?: unknown }).toJSON === 'function') return BAIL;
      const out: Record<string, unknown> = {};
      // for…in rather than Object.keys: no array of keys per object copied (every event's data and
      // meta come through here). It also walks inherited enumerable keys, which JSON would not copy:
      // there are none unless Object.prototype was extended, and then the round trip decides.
      for (const key in value) {
        if (key === '__proto__' || !Object.hasOwn(value, key)) return BAIL;
        const c = direct((value as Record<string, unknown>)[key], depth + 1);
        if (c === BAIL) return BAIL;
        out[key] = c;
      }
      return out;
    }
    default:
      return BAIL; // undefined, function, symbol, bigint: JSON drops, nulls or rejects them
  }
}
