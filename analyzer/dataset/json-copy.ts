/**
 * `JSON.parse(JSON.stringify(value))` without the text, for the values handlers emit: the offline fold
 * (fold.ts) hands a process's outputs to the processes reading them as the store would — parsed back
 * from their JSON — and parsing every output back cost more than copying it. The copy is exact only
 * for plain JSON data (plain objects and arrays, strings, finite numbers other than -0, booleans,
 * null); for anything else (undefined, -0, NaN, class instances, `toJSON`, a `__proto__` key, very
 * deep nesting) it gives up and the caller parses the text.
 */

/** Nesting beyond which the copy gives up (the parse has no such limit). */
const MAX_DEPTH = 32;

/** A fresh copy equal to what parsing `value`'s JSON would give, or undefined when that is not certain. */
export function jsonCopy(value: unknown): unknown {
  return copy(value, 0);
}

function copy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : undefined;
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype || typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined;
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      const v = copy(value[i], depth + 1);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if ((proto !== Object.prototype && proto !== null) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return undefined;
    const v = copy((value as Record<string, unknown>)[key], depth + 1);
    if (v === undefined) return undefined;
    out[key] = v;
  }
  return out;
}
