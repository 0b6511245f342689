/** The event messages' CRC-32: the JS loop for short inputs agrees with node:zlib's at every length and offset. */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32, crc32Js } from '../../../src/store/nats/crc32.ts';

describe('crc32', () => {
  it("matches zlib's for any bytes, lengths around the switch to zlib included, from any offset of any view", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(16), fc.nat(16), (bytes, cutStart, cutEnd) => {
        const from = Math.min(cutStart, bytes.length);
        const to = Math.max(from, bytes.length - cutEnd);
        // A view into a larger buffer, as the NATS client hands out payloads.
        const view = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(bytes)]).subarray(3);
        const expected = zlibCrc32(bytes.subarray(from, to));
        expect(crc32Js(view, from, to)).toBe(expected);
        expect(crc32(view, from, to)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('has the check value of CRC-32/ISO-HDLC', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32Js(check, 0, check.length)).toBe(0xcbf43926);
  });
});
