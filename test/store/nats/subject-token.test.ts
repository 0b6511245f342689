import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken, MAX_TOKEN_CHARS } from '../../../src/store/nats/subject-token.ts';
import { parseNatsLocation } from '../../../src/store/nats/nats-location.ts';
import { isInvalidInput } from 'spive';

/** Valid in a NATS subject token (no `.`, `*`, `>`, whitespace) and in a KV key. */
const TOKEN = /^[-_=A-Za-z0-9]+$/;

/** Keys as the API allows them: any UTF-16 string of 1-1024 units, lone surrogates included. */
const keyArb = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 64 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }),
  fc.string({ unit: fc.constantFrom('.', '*', '>', ' ', '\n', '_', '=', '-', 'a', '\u00e9', '\ud83d\ude00', '\ud800'), minLength: 1, maxLength: 64 }),
  fc.string({ unit: 'grapheme', minLength: 300, maxLength: 1024 }),
);

describe('subject tokens', () => {
  it('are valid subject and KV tokens of bounded length for any key', () => {
    fc.assert(
      fc.property(keyArb, (key) => {
        const token = encodeToken(key);
        expect(token).toMatch(TOKEN);
        expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_CHARS + 1);
      }),
    );
  });

  it('decode back to the key unless hashed', () => {
    fc.assert(
      fc.property(keyArb, (key) => {
        const token = encodeToken(key);
        expect(decodeToken(token)).toBe(token.startsWith('=') ? undefined : key);
      }),
    );
  });

  it('give different keys different tokens', () => {
    fc.assert(
      fc.property(keyArb, keyArb, (a, b) => {
        fc.pre(a !== b);
        expect(encodeToken(a)).not.toBe(encodeToken(b));
      }),
    );
  });

  it('keep plain keys readable', () => {
    expect(encodeToken('acct-17')).toBe('acct-17');
    expect(encodeToken('a.b c')).toBe('a_2Eb_20c');
  });
});

describe('nats:// locations', () => {
  it('parse host, port and prefix, with defaults', () => {
    expect(parseNatsLocation('nats://127.0.0.1:4222?prefix=app_1')).toEqual({ server: '127.0.0.1:4222', prefix: 'app_1' });
    expect(parseNatsLocation('nats://nats.internal')).toEqual({ server: 'nats.internal:4222', prefix: 'spive' });
  });

  it('reject bad ones naming the flag or parameter and what was expected', () => {
    const cases: Array<[string, RegExp]> = [
      ['nats://', /^--store: expected nats:\/\/host\[:port\]/],
      ['nats://h:4222/path', /^--store: expected .*no path/],
      ['nats://h?prefix=a.b', /^--store parameter prefix: expected letters, digits, _ or -/],
      ['nats://h?stream=x', /^--store parameter stream: expected only prefix=<name> is known/],
    ];
    for (const [text, message] of cases) {
      let error: unknown;
      try {
        parseNatsLocation(text);
      } catch (e) {
        error = e;
      }
      expect(isInvalidInput(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
  });
});
