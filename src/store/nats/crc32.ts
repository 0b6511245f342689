/**
 * CRC-32 (ISO-HDLC, zlib's) of part of a byte array: node:zlib's for long inputs, a slice-by-8 table
 * in JS for short ones.
 *
 * Why two: zlib's is native and fast per byte, but each call costs a binding crossing and argument
 * checks worth a few hundred bytes of table lookups. A one-event message is about 150 bytes, where
 * the JS loop takes about half as long (measured here: 150 bytes ~190 vs ~330 ns; they meet near 300
 * bytes; at 3 KB zlib is three times as fast).
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

/** Inputs shorter than this are checked in JS. */
const JS_BELOW = 256;

/** Slice-by-8 tables: TABLE[t * 256 + b] is the CRC of byte b followed by t zero bytes. */
const TABLE = makeTable();

export function crc32(bytes: Uint8Array, from: number, to: number): number {
  if (to - from >= JS_BELOW) return zlibCrc32(new Uint8Array(bytes.buffer, bytes.byteOffset + from, to - from));
  return crc32Js(bytes, from, to);
}

/** The JS loop (exported for tests: it must agree with zlib's at every length). */
export function crc32Js(b: Uint8Array, from: number, to: number): number {
  const t = TABLE;
  let c = -1;
  let i = from;
  for (; i + 8 <= to; i += 8) {
    const a = c ^ ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24));
    c =
      (t[1792 + (a & 0xff)] as number) ^
      (t[1536 + ((a >>> 8) & 0xff)] as number) ^
      (t[1280 + ((a >>> 16) & 0xff)] as number) ^
      (t[1024 + (a >>> 24)] as number) ^
      (t[768 + (b[i + 4] as number)] as number) ^
      (t[512 + (b[i + 5] as number)] as number) ^
      (t[256 + (b[i + 6] as number)] as number) ^
      (t[b[i + 7] as number] as number);
  }
  for (; i < to; i++) c = (t[(c ^ (b[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function makeTable(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k * 256 + n] = ((t[(k - 1) * 256 + n] as number) >>> 8) ^ (t[(t[(k - 1) * 256 + n] as number) & 0xff] as number);
  return t;
}
