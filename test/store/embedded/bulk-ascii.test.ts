/** The bulk writer's in-place ASCII (bulk-ascii.ts) writes exactly the bytes of the strings it replaces. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asciiBytes, putAsciiText, putBytes, putInteger } from '../../../src/store/embedded/bulk-ascii.ts';

const written = (f: (buf: Uint8Array, at: number) => number): string => {
  const buf = new Uint8Array(64).fill(0x23);
  const n = f(buf, 3);
  expect(buf[2]).toBe(0x23); // nothing before `at`
  expect(buf[3 + n]).toBe(0x23); // nor after the bytes it counts
  return Buffer.from(buf.subarray(3, 3 + n)).toString('latin1');
};

describe('bulk-ascii', () => {
  it('putInteger writes String(n) for any safe integer (and -0 as "0")', () => {
    for (const n of [0, -0, 1, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, -1, -(2 ** 31), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1_704_067_200_000]) {
      expect(written((b, at) => putInteger(b, at, n))).toBe(String(n));
    }
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        expect(written((b, at) => putInteger(b, at, n))).toBe(String(n));
      }),
    );
  });

  it('putInteger falls back to String for anything not an integer', () => {
    for (const n of [1.5, 0.1, 1e21]) expect(written((b, at) => putInteger(b, at, n))).toBe(String(n));
  });

  it('putBytes and putAsciiText copy their input; asciiBytes refuses non-ASCII', () => {
    expect(written((b, at) => putBytes(b, at, asciiBytes('{"s":')))).toBe('{"s":');
    expect(written((b, at) => putAsciiText(b, at, '-123'))).toBe('-123');
    expect(written((b, at) => putBytes(b, at, new Uint8Array(0)))).toBe('');
    expect(() => asciiBytes('é')).toThrow(/not ASCII/);
  });
});
