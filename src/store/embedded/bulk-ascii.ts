/**
 * ASCII written straight into a frame being encoded (bulk-writer.ts): constant pieces and decimal
 * integers, without building a string first. An events frame's meta JSON was one template string per
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

/** Integers below this take the digit loop (int32 arithmetic). */
const SMALL_LIMIT = 2 ** 31;

/**
 * Writes `String(n)` for a safe integer `n` at `at`; returns the bytes written. Integers below 2^31
 * (seqs, positions, counts) are written digit by digit with integer arithmetic; anything else goes
 * through `String`, so the bytes are always exactly `${n}`'s.
 */
export function putInteger(buf: Uint8Array, at: number, n: number): number {
  if (n >= 0 && n < SMALL_LIMIT && (n | 0) === n) {
    let v = n | 0; // -0 becomes 0, as String(-0) is "0"
    let digits = 1;
    for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
    for (let i = digits - 1; i >= 0; i--) {
      const q = (v / 10) | 0;
      buf[at + i] = 0x30 + (v - q * 10);
      v = q;
    }
    return digits;
  }
  return putAsciiText(buf, at, String(n));
}

/** Writes a string known to be ASCII (a number's text); returns the bytes written. */
export function putAsciiText(buf: Uint8Array, at: number, text: string): number {
  const n = text.length;
  for (let i = 0; i < n; i++) buf[at + i] = text.charCodeAt(i);
  return n;
}
