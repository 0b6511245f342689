/**
 * Turning a row's cells into an event: the event time (ISO-8601 text, a timestamp, or integer ms
 * since the epoch), the key, and the payload as plain JSON. DuckDB hands BIGINTs as `bigint` and
 * timestamps as `Date`; neither is JSON, so they are converted here (exact integers stay numbers,
 * larger ones become strings rather than silently losing digits).
 */
import type { JsonValue } from '../../src/model/event.ts';

/** A parse result: the value, or why the cell was rejected (for the bad-row report). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

// YYYY-MM-DD, optionally with a time (T or space) and a zone; a time without a zone is UTC.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Event time in ms since the epoch from an ISO-8601 string (no zone = UTC). */
export function parseIsoTime(text: string): number | undefined {
  const m = ISO.exec(text.trim());
  if (m === null) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return undefined;
  let ms = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s), frac === '' ? 0 : Math.floor(Number(frac) * 1000));
  if (new Date(Date.UTC(Number(y), month - 1, day)).getUTCDate() !== day) return undefined; // 2024-02-31
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return ms;
}

/** A time cell: integer ms (number, bigint or digits), a timestamp, or ISO-8601 text. */
export function parseTimeCell(value: unknown): Parsed<number> {
  if (value === null || value === undefined) return { ok: false, reason: 'no time (the cell is empty)' };
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? { ok: false, reason: 'an invalid timestamp' } : { ok: true, value: Math.floor(ms) };
  }
  if (typeof value === 'bigint') {
    return Number.isSafeInteger(Number(value)) ? { ok: true, value: Number(value) } : { ok: false, reason: `time ${value} is out of range for ms since the epoch` };
  }
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? { ok: true, value } : { ok: false, reason: `time ${value} is not an integer number of ms since the epoch` };
  }
  if (typeof value === 'string') {
    // read_json types a column mixing numbers and strings as text holding JSON: "\"2024-…\"".
    const text = value.length > 1 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value.trim();
    if (/^-?\d+$/.test(text)) {
      const n = Number(text);
      return Number.isSafeInteger(n) ? { ok: true, value: n } : { ok: false, reason: `time ${text} is out of range for ms since the epoch` };
    }
    const ms = parseIsoTime(text);
    return ms === undefined ? { ok: false, reason: `unparsable time ${JSON.stringify(text)} (expected ISO-8601 or integer ms since the epoch)` } : { ok: true, value: ms };
  }
  return { ok: false, reason: `unparsable time of type ${typeof value}` };
}

/** A key or type cell: non-empty text (numbers are written out), not starting with the platform's '$'. */
export function parseNameCell(value: unknown, what: 'key' | 'type', maxLength: number): Parsed<string> {
  if (value === null || value === undefined) return { ok: false, reason: `no ${what} (the cell is empty)` };
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean' ? String(value) : undefined;
  if (text === undefined) return { ok: false, reason: `the ${what} is not text or a number` };
  if (text === '') return { ok: false, reason: `empty ${what}` };
  if (text.length > maxLength) return { ok: false, reason: `${what} longer than ${maxLength} characters` };
  if (text.startsWith('$')) return { ok: false, reason: `${what} ${JSON.stringify(text)} starts with '$', which is reserved for the platform` };
  return { ok: true, value: text };
}

/** A cell as plain JSON. */
export function toJson(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case 'object': {
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
      if (Array.isArray(value)) return value.map(toJson);
      if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
      const out: Record<string, JsonValue> = {};
      for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
      return out;
    }
    default:
      return String(value);
  }
}
