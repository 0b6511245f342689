/**
 * The effects oracle reads an idempotency key (process/key/stream@position/index) by index arithmetic
 * rather than a backtracking pattern: it must split every string exactly as the pattern does,
 * including keys with slashes and at signs, malformed keys and line breaks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIdempotencyKey } from '../../sim/oracles/effects.ts';

const PATTERN = /^(.+?)\/(.+)\/[^/@]+@(\d+)\/\d+$/;

const asPattern = (id: string) => {
  const m = PATTERN.exec(id);
  return m === null ? null : [...m];
};

describe('parseIdempotencyKey', () => {
  it('splits the runner keys into process, shard key and input position', () => {
    expect(parseIdempotencyKey('ledger/acc-1/transfers@12/0')).toEqual(['ledger/acc-1/transfers@12/0', 'ledger', 'acc-1', '12']);
    expect(parseIdempotencyKey('p/a/b@c/s@7/3')).toEqual(['p/a/b@c/s@7/3', 'p', 'a/b@c', '7']);
  });

  it('agrees with the pattern on any string over the characters that matter', () => {
    const piece = fc.constantFrom('a', 'b', '/', '@', '0', '7', '\n', '\u2028', 'é', 'x/1');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 16 }), (parts) => {
        const id = parts.join('');
        const got = parseIdempotencyKey(id);
        expect(got === null ? null : [...got]).toEqual(asPattern(id));
      }),
      { numRuns: 20_000 },
    );
  });

  it('rejects what the pattern rejects at the edges', () => {
    for (const id of ['/k/s@1/0', 'p//s@1/0', 'p/k/s@/0', 'p/k/@1/0', 'p/k/s@1/', 'p/k/s@1@2/0', 'p/k/s@1/0\n', '']) {
      expect(parseIdempotencyKey(id) === null ? null : [...(parseIdempotencyKey(id) as readonly string[])]).toEqual(asPattern(id));
    }
  });
});
