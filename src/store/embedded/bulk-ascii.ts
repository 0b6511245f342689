/**
 * ASCII written straight into a frame being encoded (bulk-writer.ts): constant pieces, decimal
 * integers and plain JSON strings (a snapshot's shard), without building a string first. An events frame's meta JSON was one template string per
 * frame — numbers converted to text, the pieces joined, the result flattened and transcoded — and that
 * was a tenth of the folding thread of `spive dataset generate`; these write the same bytes in place.
 */

/** A constant's bytes (ASCII only). */
export function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError(`asciiBytes: ${JSON.stringify(text)} is not ASCII`);
    out[i] = c;
  }
  return out;
}

/** Copies `bytes` to `buf` at `at`; returns the bytes written. (A loop: `set` costs more for a few bytes.) */
export function putBytes(buf: Uint8Array, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = 0; i < n; i++) buf[at + i] = bytes[i] as number;
  return n;
}

/** Copies the first `n` of `bytes` to `buf` at `at`; returns `n`. */
export function putPrefix(buf: Uint8Array, at: number, bytes: Uint8Array, n: number): number {
  for (let i = 0; i < n; i++) buf[at + i] = bytes[i] as number;
  return n;
}

/** Integers below this take the digit loop (int32 arithmetic). */
const SMALL_LIMIT = 2 ** 31;
const BILLION = 1_000_000_000;

/**
 * Writes `String(n)` for a safe integer `n` at `at`; returns the bytes written. Integers below 2^31
 * (seqs, positions, counts) are written digit by digit with integer arithmetic, larger safe ones
 * (event times: ms since the epoch) as two such halves, the lower one padded to nine digits (a
 * double-to-string conversion per event time was a visible share of a bulk load); anything else goes
 * through `String`, so the bytes are always exactly `${n}`'s.
 */
export function putInteger(buf: Uint8Array, at: number, n: number): number {
  if (n >= 0 && n < SMALL_LIMIT && (n | 0) === n) return putDigits(buf, at, n | 0); // -0 becomes 0, as String(-0) is "0"
  if (n >= SMALL_LIMIT && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n) {
    let high = Math.floor(n / BILLION); // < 2^31 for any safe integer
    let low = n - high * BILLION; // exact; the division may round up just below a multiple of 10^9
    if (low < 0) {
      high--;
      low += BILLION;
    }
    const digits = putDigits(buf, at, high);
    let v = low | 0;
    for (let i = 8; i >= 0; i--) {
      const q = (v / 10) | 0;
      buf[at + digits + i] = 0x30 + (v - q * 10);
      v = q;
    }
    return digits + 9;
  }
  return putAsciiText(buf, at, String(n));
}

/** The decimal digits of `v`, an int32 >= 0. */
function putDigits(buf: Uint8Array, at: number, v: number): number {
  let digits = 1;
  for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
  for (let i = digits - 1; i >= 0; i--) {
    const q = (v / 10) | 0;
    buf[at + i] = 0x30 + (v - q * 10);
    v = q;
  }
  return digits;
}

/** Writes a string known to be ASCII (a number's text); returns the bytes written. */
export function putAsciiText(buf: Uint8Array, at: number, text: string): number {
  const n = text.length;
  for (let i = 0; i < n; i++) buf[at + i] = text.charCodeAt(i);
  return n;
}

/**
 * Writes `JSON.stringify(text)` when `text` is printable ASCII (0x20–0x7e) without `"` or `\\` —
 * JSON writes such a text as it is, between quotes — and returns the bytes written; returns -1
 * (having written part of it) for any other text, which the caller then writes otherwise.
 */
export function putAsciiJsonString(buf: Uint8Array, at: number, text: string): number {
  const n = text.length;
  buf[at] = 0x22; // "
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return -1;
    buf[at + 1 + i] = c;
  }
  buf[at + 1 + n] = 0x22;
  return n + 2;
}
